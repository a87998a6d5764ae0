-- wrk: bench/soak.sh's mixed load. Each request is the next of a cycle over TENANTS tenants:
-- a client-credentials token (FORM), discovery, the JWKS, and a Graph call with GRAPH_TOKEN.
local tenants = tonumber(os.getenv("TENANTS") or "50")
local form = os.getenv("FORM")
local bearer = "Bearer " .. os.getenv("GRAPH_TOKEN")
local graph = os.getenv("GRAPH_PATH")
local n = 0

request = function()
  n = n + 1
  local t = "soak-" .. (n % tenants)
  local kind = n % 4
  if kind == 0 then
    return wrk.format("POST", "/" .. t .. "/oauth2/v2.0/token",
      { ["Content-Type"] = "application/x-www-form-urlencoded" }, form)
  elseif kind == 1 then
    return wrk.format("GET", "/" .. t .. "/v2.0/.well-known/openid-configuration")
  elseif kind == 2 then
    return wrk.format("GET", "/" .. t .. "/discovery/v2.0/keys")
  else
    return wrk.format("GET", graph, { ["Authorization"] = bearer })
  end
end

