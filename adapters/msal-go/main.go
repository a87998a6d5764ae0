// Command driver is tokenstorm's driver (protocol v1, docs/driver-protocol.md) over unmodified
// MSAL for Go (github.com/AzureAD/microsoft-authentication-library-for-go v1.10.1).
//
// It does what a typical app does with msal-go, and nothing the library lacks, so the verdicts
// are msal-go's:
//
//   - one client per process (confidential.New for client credentials and on-behalf-of,
//     public.New for auth code and device code), with WithClientCapabilities(["cp1"]),
//     WithInstanceDiscovery(false) (required off Microsoft's hosts: authority.go would ask
//     login.microsoftonline.com to validate 127.0.0.1), an http.Client with a 10 s timeout
//     trusting the run's CA (WithHTTPClient), and WithCache(a cache.ExportReplace over a file
//     in TOKENSTORM_STATE_DIR): msal-go calls Replace before it reads the cache and Export
//     after every write, and the file holds what the library's Marshal gives (plain JSON,
//     written with the default mode, as the other adapters' apps do);
//   - acquire_token: AcquireTokenByCredential / AcquireTokenOnBehalfOf (both consult msal-go's
//     cache first), or for users AcquireTokenSilent on the cached account, then a sign-in only
//     when msal-go says one is needed: AuthCodeURL + the harness's browser +
//     AcquireTokenByAuthCode (PKCE and state added by the app: AuthCodeURL has no option for
//     them), or AcquireTokenByDeviceCode + AuthenticationResult (msal-go polls; the app waits
//     for the user 25 s at most, see deviceCodeWait);
//   - call_api: net/http with the bearer token; on a 401 with a CAE insufficient_claims
//     challenge, the claims go back to msal-go (WithClaims) and the call is retried once;
//   - whoami: from the ID token's claims; on a groups overage, Graph getMemberObjects once per
//     sign-in.
//
// Tokens reach stdout only in acquire_token answers and never stderr: everything logged or
// described is redacted first (msal-go's errors quote whole response bodies).
package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/cache"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/confidential"
	msalerrors "github.com/AzureAD/microsoft-authentication-library-for-go/apps/errors"
	"github.com/AzureAD/microsoft-authentication-library-for-go/apps/public"
)

const (
	msalModule = "github.com/AzureAD/microsoft-authentication-library-for-go"
	// timeout is the app's limit on every HTTP request (msal-go's and the API's). msal-go's own
	// default is 30 s per request (comm.go, when the context has no deadline) with
	// http.DefaultClient, which has none; an app picks its own, and the other adapters use 10 s.
	timeout = 10 * time.Second
	// deviceCodeWait is how long the app waits for the user to finish a device-code sign-in.
	// msal-go waits until the code expires (15 min by default: oauth.go DeviceCode.Token takes
	// the code's expiry as its deadline), longer than any step of a scenario, so the app sets
	// its own: 25 s, more than any scenario's user takes (12 s at most) and less than the
	// shortest device-code step deadline (30 s). With polling that honoured the interval and
	// slow_down, every scenario's sign-in would finish well within it.
	deviceCodeWait = 25 * time.Second
)

var (
	authorityURL = os.Getenv("TOKENSTORM_AUTHORITY")
	clientID     = os.Getenv("TOKENSTORM_CLIENT_ID")
	secret       = os.Getenv("TOKENSTORM_CLIENT_SECRET")
	redirectURI  = envOr("TOKENSTORM_REDIRECT_URI", "http://localhost/callback")
	defScopes    = strings.Fields(envOr("TOKENSTORM_SCOPES", "https://graph.microsoft.com/.default"))
	flow         = envOr("TOKENSTORM_FLOW", "client_credentials")
	graphURL     = envOr("TOKENSTORM_GRAPH_URL", "https://graph.microsoft.com/v1.0")
	cacheFile    = filepath.Join(envOr("TOKENSTORM_STATE_DIR", "."), "msal_token_cache.json")
)

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// ---- output and logging ----------------------------------------------------------------------

var (
	outMu sync.Mutex
	out   = bufio.NewWriter(os.Stdout)
)

// send writes one protocol line; commands run on their own goroutines, so writes are serialized.
func send(msg map[string]any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(msg); err != nil {
		logf("cannot encode a message: %v", err)
		return
	}
	outMu.Lock()
	defer outMu.Unlock()
	_, _ = out.Write(b.Bytes())
	_ = out.Flush()
}

// tokenish matches anything that could be a token or a secret: 8 characters are kept.
var tokenish = regexp.MustCompile(`[A-Za-z0-9_-]{8}[A-Za-z0-9_.-]{12,}`)

func redact(s string) string {
	return tokenish.ReplaceAllStringFunc(s, func(m string) string { return m[:8] + "..." })
}

func cut(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func logf(format string, args ...any) {
	msg := redact(fmt.Sprintf(format, args...))
	fmt.Fprintf(os.Stderr, "msal-go: %s\n", strings.ReplaceAll(msg, "\n", " "))
}

// ---- the app, as a typical msal-go app sets it up --------------------------------------------

// fileCache is the app's cache.ExportReplace: the whole serialized cache in one file, read
// before msal-go reads its cache and written after every change (msal-go calls Export after
// each token it stores), as msal-go's cache accessor samples do.
type fileCache struct {
	path string
	mu   sync.Mutex
}

func (f *fileCache) Replace(_ context.Context, c cache.Unmarshaler, _ cache.ReplaceHints) error {
	f.mu.Lock()
	data, err := os.ReadFile(f.path)
	f.mu.Unlock()
	if errors.Is(err, fs.ErrNotExist) {
		return nil // nothing persisted yet: keep what is in memory
	}
	if err != nil {
		return err
	}
	return c.Unmarshal(data)
}

func (f *fileCache) Export(_ context.Context, c cache.Marshaler, _ cache.ExportHints) error {
	data, err := c.Marshal()
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	// The default mode (0666 less the umask), as the other adapters' apps write their caches.
	return os.WriteFile(f.path, data, 0o666)
}

// newHTTPClient is the app's HTTP client, for msal-go (WithHTTPClient) and for the API: the
// system's trust store (which honours SSL_CERT_FILE) plus the run's CA, and a 10 s timeout on
// every request, body included.
func newHTTPClient() (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if ca := os.Getenv("TOKENSTORM_CA_BUNDLE"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("reading TOKENSTORM_CA_BUNDLE: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TOKENSTORM_CA_BUNDLE (%s) holds no PEM certificate", ca)
		}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: transport, Timeout: timeout}, nil
}

var (
	httpClient *http.Client
	cca        confidential.Client // client_credentials, obo
	pca        public.Client       // auth_code, device_code
)

func newApp() error {
	var err error
	if httpClient, err = newHTTPClient(); err != nil {
		return err
	}
	accessor := &fileCache{path: cacheFile}
	caps := []string{"cp1"}
	if flow == "client_credentials" || flow == "obo" {
		cred, err := confidential.NewCredFromSecret(secret)
		if err != nil {
			return err
		}
		cca, err = confidential.New(authorityURL, clientID, cred,
			confidential.WithCache(accessor),
			confidential.WithClientCapabilities(caps),
			confidential.WithHTTPClient(httpClient),
			confidential.WithInstanceDiscovery(entraHost()))
		return err
	}
	pca, err = public.New(clientID,
		public.WithAuthority(authorityURL),
		public.WithCache(accessor),
		public.WithClientCapabilities(caps),
		public.WithHTTPClient(httpClient),
		public.WithInstanceDiscovery(entraHost()))
	return err
}

// entraHost says whether the authority is at Entra's real host (`tokenstorm run --impersonate`):
// msal-go then runs with its defaults, instance discovery included; elsewhere (the mock's own
// 127.0.0.1 address) instance discovery must be off, or authority.go asks
// login.microsoftonline.com to validate the authority.
func entraHost() bool {
	u, err := url.Parse(authorityURL)
	if err != nil {
		return false
	}
	switch u.Hostname() {
	case "login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net":
		return true
	}
	return false
}

// failure is an answer's error: a failed operation the app reports (not judged by itself).
type failure struct{ code, description string }

func (f *failure) Error() string { return f.code + ": " + f.description }

// oauthError reads the OAuth error of a failed request from msal-go's CallErr (the response
// body is kept in it): the status, the `error` code and the `claims` of a refusal.
func oauthError(err error) (status int, code, claims string) {
	var ce msalerrors.CallErr
	if !errors.As(err, &ce) || ce.Resp == nil {
		return 0, "", ""
	}
	status = ce.Resp.StatusCode
	if ce.Resp.Body == nil {
		return status, "", ""
	}
	body, _ := io.ReadAll(ce.Resp.Body)
	ce.Resp.Body = io.NopCloser(bytes.NewReader(body)) // readable again
	var e struct {
		Error  string `json:"error"`
		Claims string `json:"claims"`
	}
	if json.Unmarshal(body, &e) == nil {
		code, claims = e.Error, e.Claims
	}
	return status, code, claims
}

// answerOf turns a library error into an answer's error code and description.
func answerOf(err error) (string, string) {
	var f *failure
	if errors.As(err, &f) {
		return f.code, f.description
	}
	code := "msal_error"
	var ije msalerrors.InvalidJsonErr
	if status, c, _ := oauthError(err); c != "" {
		code = c
	} else if status != 0 {
		code = fmt.Sprintf("http_%d", status)
	} else if errors.As(err, &ije) {
		code = "invalid_json"
	} else if errors.Is(err, context.DeadlineExceeded) || strings.Contains(err.Error(), "Client.Timeout") {
		code = "timeout"
	}
	return code, cut(redact(err.Error()), 500)
}

// needsUser tells whether AcquireTokenSilent failed because only the user can help (nothing
// usable cached, or the refresh token refused), and the claims a refusal asked for. Anything
// else (5xx, 429, a timeout, a broken answer) is reported to the caller, not turned into a prompt.
func needsUser(err error) (bool, string) {
	if err.Error() == "no token found" { // base.go: no access token and no refresh token cached
		return true, ""
	}
	status, code, claims := oauthError(err)
	if status >= 400 && status < 500 {
		switch code {
		case "invalid_grant", "interaction_required", "login_required", "consent_required":
			return true, claims
		}
	}
	return false, ""
}

// ---- the ID token's claims (whoami) --------------------------------------------------------------

var (
	claimsMu   sync.Mutex
	lastClaims map[string]any // the ID token of the last result that carried one
	overageMu  sync.Mutex
	overage    = map[string][]any{} // sign-in (oid|iat) -> groups from Graph
)

// remember keeps the claims of the result's ID token. msal-go parses only a few fixed claims
// (accesstokens.IDToken), so roles, groups and the overage markers are read from RawToken.
func remember(raw string) {
	parts := strings.Split(raw, ".")
	if len(parts) < 2 {
		return
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return
	}
	var c map[string]any
	if json.Unmarshal(payload, &c) != nil {
		return
	}
	claimsMu.Lock()
	lastClaims = c
	claimsMu.Unlock()
}

func tokenOf(ar confidential.AuthResult, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if ar.IDToken.RawToken != "" {
		remember(ar.IDToken.RawToken)
	}
	return ar.AccessToken, nil
}

// ---- interaction through the harness -------------------------------------------------------------

var (
	waitMu  sync.Mutex
	waiting = map[string]chan message{} // command id -> its browsed answer
)

func ask(id json.RawMessage, msg map[string]any) message {
	ch := make(chan message, 1)
	waitMu.Lock()
	waiting[string(id)] = ch
	waitMu.Unlock()
	send(msg)
	return <-ch
}

func randomURLSafe(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func interactive(ctx context.Context, id json.RawMessage, scopes []string, claims string) (string, error) {
	if flow == "device_code" {
		ctx, cancel := context.WithTimeout(ctx, deviceCodeWait)
		defer cancel()
		var opts []public.AcquireByDeviceCodeOption
		if claims != "" {
			opts = append(opts, public.WithClaims(claims))
		}
		dc, err := pca.AcquireTokenByDeviceCode(ctx, scopes, opts...)
		if err != nil {
			return "", err
		}
		send(map[string]any{"type": "device_code", "id": id, "user_code": dc.Result.UserCode,
			"verification_uri": dc.Result.VerificationURL})
		return tokenOf(dc.AuthenticationResult(ctx)) // msal-go polls until the user is done
	}
	// msal-go's AuthCodeURL takes no PKCE challenge and no state (public.go: WithClaims,
	// WithDomainHint, WithLoginHint, WithTenantID, WithPrompt), so the app adds both to the URL,
	// and hands the verifier back through WithChallenge (sent as code_verifier).
	verifier := randomURLSafe(32)
	sum := sha256.Sum256([]byte(verifier))
	state := randomURLSafe(16)
	var urlOpts []public.AuthCodeURLOption
	if claims != "" {
		urlOpts = append(urlOpts, public.WithClaims(claims))
	}
	authURL, err := pca.AuthCodeURL(ctx, clientID, redirectURI, scopes, urlOpts...)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("code_challenge", base64.RawURLEncoding.EncodeToString(sum[:]))
	q.Set("code_challenge_method", "S256")
	q.Set("state", state)
	u.RawQuery = q.Encode()

	answer := ask(id, map[string]any{"type": "browse", "id": id, "url": u.String()})
	if len(answer.Error) > 0 && string(answer.Error) != "null" {
		var why string
		_ = json.Unmarshal(answer.Error, &why)
		return "", &failure{"user_cancelled", why}
	}
	back, err := url.Parse(answer.URL)
	if err != nil {
		return "", &failure{"bad_redirect", err.Error()}
	}
	params := back.Query()
	if e := params.Get("error"); e != "" {
		return "", &failure{e, params.Get("error_description")}
	}
	if params.Get("state") != state {
		return "", &failure{"state_mismatch", "the redirect's state is not the one sent"}
	}
	var opts []public.AcquireByAuthCodeOption
	opts = append(opts, public.WithChallenge(verifier))
	if claims != "" {
		opts = append(opts, public.WithClaims(claims))
	}
	return tokenOf(pca.AcquireTokenByAuthCode(ctx, params.Get("code"), redirectURI, scopes, opts...))
}

// acquire is the app's "get me a token".
func acquire(ctx context.Context, id json.RawMessage, scopes []string, assertion, claims string) (string, error) {
	switch flow {
	case "client_credentials":
		var opts []confidential.AcquireByCredentialOption
		if claims != "" {
			opts = append(opts, confidential.WithClaims(claims))
		}
		return tokenOf(cca.AcquireTokenByCredential(ctx, scopes, opts...))
	case "obo":
		var opts []confidential.AcquireOnBehalfOfOption
		if claims != "" {
			opts = append(opts, confidential.WithClaims(claims))
		}
		return tokenOf(cca.AcquireTokenOnBehalfOf(ctx, assertion, scopes, opts...))
	}
	accounts, err := pca.Accounts(ctx)
	if err != nil {
		return "", err
	}
	if len(accounts) > 0 {
		opts := []public.AcquireSilentOption{public.WithSilentAccount(accounts[0])}
		if claims != "" {
			opts = append(opts, public.WithClaims(claims))
		}
		token, err := tokenOf(pca.AcquireTokenSilent(ctx, scopes, opts...))
		if err == nil {
			return token, nil
		}
		user, refusalClaims := needsUser(err)
		if !user {
			// A transient failure (5xx, 429, timeout, broken answer): the app does not prompt.
			return "", err
		}
		if refusalClaims != "" {
			// A refusal that names claims (a Conditional Access step-up): the sign-in carries
			// them, as Microsoft's guidance does with the exception's Claims.
			claims = refusalClaims
		}
	}
	return interactive(ctx, id, scopes, claims)
}

// ---- the operations ------------------------------------------------------------------------------

// challengeClaims returns the decoded claims of a CAE insufficient_claims challenge.
func challengeClaims(header string) string {
	if !strings.Contains(header, "insufficient_claims") {
		return ""
	}
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(k), "claims") {
			continue
		}
		raw := strings.TrimRight(strings.Trim(strings.TrimSpace(v), `"`), "=")
		if b, err := base64.RawStdEncoding.DecodeString(raw); err == nil {
			return string(b)
		}
		if b, err := base64.RawURLEncoding.DecodeString(raw); err == nil {
			return string(b)
		}
	}
	return ""
}

func bearerCall(ctx context.Context, method, target, token string, body io.Reader) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data, err
}

func callAPI(ctx context.Context, id json.RawMessage, method, target, assertion string) (map[string]any, error) {
	token, err := acquire(ctx, id, defScopes, assertion, "")
	if err != nil {
		return nil, err
	}
	status, header, data, err := bearerCall(ctx, method, target, token, nil)
	if err != nil {
		return nil, err
	}
	if status == http.StatusUnauthorized {
		if claims := challengeClaims(header.Get("WWW-Authenticate")); claims != "" {
			if token, err = acquire(ctx, id, defScopes, assertion, claims); err != nil {
				return nil, err
			}
			if status, _, data, err = bearerCall(ctx, method, target, token, nil); err != nil {
				return nil, err
			}
		}
	}
	var body any
	if json.Unmarshal(data, &body) != nil {
		body = cut(string(data), 2000)
	}
	return map[string]any{"ok": status >= 200 && status < 300, "status": status, "body": body}, nil
}

func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	return []any{}
}

func str(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return ""
}

func whoami(ctx context.Context, id json.RawMessage) (map[string]any, error) {
	if _, err := acquire(ctx, id, defScopes, "", ""); err != nil {
		return nil, err
	}
	claimsMu.Lock()
	c := lastClaims
	claimsMu.Unlock()
	if c == nil {
		c = map[string]any{}
		if accounts, err := pca.Accounts(ctx); err == nil && len(accounts) > 0 {
			c["preferred_username"] = accounts[0].PreferredUsername
		}
	}
	groups := list(c["groups"])
	names, _ := c["_claim_names"].(map[string]any)
	if _, over := names["groups"]; over || c["hasgroups"] == true {
		key := fmt.Sprintf("%v|%v", c["oid"], c["iat"])
		overageMu.Lock()
		known, ok := overage[key]
		overageMu.Unlock()
		if !ok {
			token, err := acquire(ctx, id, defScopes, "", "")
			if err != nil {
				return nil, err
			}
			status, _, data, err := bearerCall(ctx, http.MethodPost, graphURL+"/me/getMemberObjects", token,
				strings.NewReader(`{"securityEnabledOnly":false}`))
			if err != nil {
				return nil, err
			}
			if status < 200 || status > 299 {
				return nil, &failure{"graph_error", fmt.Sprintf("getMemberObjects answered %d", status)}
			}
			var r struct {
				Value []any `json:"value"`
			}
			if err := json.Unmarshal(data, &r); err != nil {
				return nil, &failure{"graph_error", "getMemberObjects: " + err.Error()}
			}
			known = r.Value
			if known == nil {
				known = []any{}
			}
			overageMu.Lock()
			overage[key] = known
			overageMu.Unlock()
		}
		groups = known
	}
	return map[string]any{"ok": true, "name": str(c["name"]), "username": str(c["preferred_username"]),
		"oid": str(c["oid"]), "roles": list(c["roles"]), "groups": groups}, nil
}

// message is any line from the harness: a command or a browsed answer.
type message struct {
	Type      string          `json:"type"`
	ID        json.RawMessage `json:"id"`
	Op        string          `json:"op"`
	Scopes    []string        `json:"scopes"`
	Method    string          `json:"method"`
	URL       string          `json:"url"`
	Assertion string          `json:"assertion"`
	Error     json.RawMessage `json:"error"`
}

func handle(msg message) {
	ctx := context.Background()
	var answer map[string]any
	var err error
	switch msg.Op {
	case "acquire_token":
		scopes := msg.Scopes
		if len(scopes) == 0 {
			scopes = defScopes
		}
		var token string
		if token, err = acquire(ctx, msg.ID, scopes, msg.Assertion, ""); err == nil {
			answer = map[string]any{"ok": true, "access_token": token}
		}
	case "call_api":
		method := msg.Method
		if method == "" {
			method = http.MethodGet
		}
		answer, err = callAPI(ctx, msg.ID, method, msg.URL, msg.Assertion)
	case "whoami":
		answer, err = whoami(ctx, msg.ID)
	default:
		err = &failure{"unsupported", msg.Op}
	}
	if err != nil {
		code, description := answerOf(err)
		var f *failure
		if !errors.As(err, &f) {
			logf("%s failed: %s: %s", msg.Op, code, cut(description, 300))
		}
		answer = map[string]any{"ok": false, "error": code, "description": description}
	}
	answer["type"] = "result"
	answer["id"] = msg.ID
	send(answer)
}

// msalVersion is the version of msal-go linked into this binary, as the build recorded it.
func msalVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == msalModule {
				if d.Replace != nil {
					d = d.Replace
				}
				return strings.TrimPrefix(d.Version, "v")
			}
		}
	}
	return "unknown"
}

func main() {
	if err := newApp(); err != nil {
		logf("cannot create the msal-go client: %v", err)
		os.Exit(1)
	}
	send(map[string]any{"type": "hello", "protocol": 1, "client": "msal-go", "version": msalVersion(),
		"flows":    []string{"client_credentials", "auth_code", "device_code", "obo"},
		"features": []string{"persist", "whoami", "call_api", "cae", "discovery"}})
	in := bufio.NewReader(os.Stdin)
	for {
		line, err := in.ReadBytes('\n')
		if len(bytes.TrimSpace(line)) > 0 {
			var msg message
			if json.Unmarshal(line, &msg) != nil {
				logf("ignoring a non-JSON line from the harness")
			} else if msg.Type == "command" && msg.Op == "shutdown" {
				// msal-go exported the cache after every change: nothing is left to persist.
				send(map[string]any{"type": "result", "id": msg.ID, "ok": true})
				os.Exit(0)
			} else if msg.Type == "command" {
				go handle(msg)
			} else if msg.Type == "browsed" {
				waitMu.Lock()
				ch := waiting[string(msg.ID)]
				delete(waiting, string(msg.ID))
				waitMu.Unlock()
				if ch != nil {
					ch <- msg
				}
			}
		}
		if err != nil { // stdin closed: the harness is gone
			os.Exit(0)
		}
	}
}
