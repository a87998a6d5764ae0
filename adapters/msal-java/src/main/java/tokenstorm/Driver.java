package tokenstorm;

import com.microsoft.aad.msal4j.AuthorizationCodeParameters;
import com.microsoft.aad.msal4j.AuthorizationRequestUrlParameters;
import com.microsoft.aad.msal4j.ClaimsRequest;
import com.microsoft.aad.msal4j.ClientCredentialFactory;
import com.microsoft.aad.msal4j.ClientCredentialParameters;
import com.microsoft.aad.msal4j.ConfidentialClientApplication;
import com.microsoft.aad.msal4j.DeviceCode;
import com.microsoft.aad.msal4j.DeviceCodeFlowParameters;
import com.microsoft.aad.msal4j.IAccount;
import com.microsoft.aad.msal4j.IAuthenticationResult;
import com.microsoft.aad.msal4j.ITokenCacheAccessAspect;
import com.microsoft.aad.msal4j.ITokenCacheAccessContext;
import com.microsoft.aad.msal4j.MsalClientException;
import com.microsoft.aad.msal4j.MsalException;
import com.microsoft.aad.msal4j.MsalInteractionRequiredException;
import com.microsoft.aad.msal4j.MsalServiceException;
import com.microsoft.aad.msal4j.OnBehalfOfParameters;
import com.microsoft.aad.msal4j.PublicClientApplication;
import com.microsoft.aad.msal4j.SilentParameters;
import com.microsoft.aad.msal4j.UserAssertion;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/**
 * tokenstorm driver (protocol v1) over unmodified MSAL for Java (com.microsoft.azure:msal4j
 * 1.26.1).
 *
 * <p>It does what a typical app does with msal4j, and nothing the library lacks, so the verdicts
 * are msal4j's:
 *
 * <ul>
 *   <li>one app object per process (ConfidentialClientApplication for client credentials and
 *       on-behalf-of, PublicClientApplication for auth code and device code), with
 *       clientCapabilities(Set.of("cp1")), instanceDiscovery(false) off Entra's hosts (msal4j
 *       would otherwise ask login.microsoftonline.com about the mock's host) and instance metadata
 *       naming the mock's port (see instanceMetadata and README.md), the run's CA as its
 *       sslSocketFactory, 10 s connect and read timeouts on msal4j's default HTTP client, and an
 *       ITokenCacheAccessAspect persisting msal4j's serialized cache to a file in
 *       TOKENSTORM_STATE_DIR after every change (plain JSON, as msal4j serializes it, default file
 *       mode: the pattern of msal4j's token cache serialization docs);
 *   <li>acquire_token: acquireToken(ClientCredentialParameters) / acquireToken(OnBehalfOfParameters)
 *       (they consult msal4j's cache), or for users acquireTokenSilently on the cached account,
 *       then the interactive flow: getAuthorizationRequestUrl with PKCE, state and nonce, the
 *       harness's browser, acquireToken(AuthorizationCodeParameters) (the server-side web app
 *       way); or acquireToken(DeviceCodeFlowParameters), whose callback shows the code;
 *   <li>call_api: java.net.http.HttpClient with the bearer token; on a 401 with a CAE
 *       insufficient_claims challenge, the claims go back to msal4j
 *       (.claims(ClaimsRequest.formatAsClaimsRequest(...))) and the call is retried once;
 *   <li>whoami: from the ID token's claims; on a groups overage, Graph getMemberObjects once per
 *       sign-in.
 * </ul>
 *
 * <p>Every command runs on its own thread (the harness sends some concurrently); stdout carries
 * only protocol lines, one writer at a time. Tokens reach stdout only in acquire_token answers
 * and never reach stderr: everything written to stderr (msal4j's slf4j warnings included) goes
 * through a filter that shortens anything token-like.
 */
public final class Driver {
    static final int TIMEOUT_MS = 10_000;
    static final Map<String, String> ENV = System.getenv();
    static final String AUTHORITY = ENV.get("TOKENSTORM_AUTHORITY");
    static final String CLIENT_ID = ENV.get("TOKENSTORM_CLIENT_ID");
    static final String SECRET = ENV.get("TOKENSTORM_CLIENT_SECRET");
    static final String REDIRECT_URI = ENV.getOrDefault("TOKENSTORM_REDIRECT_URI", "http://localhost/callback");
    static final List<String> SCOPES =
            List.of(ENV.getOrDefault("TOKENSTORM_SCOPES", "https://graph.microsoft.com/.default").trim().split("\\s+"));
    static final String FLOW = ENV.getOrDefault("TOKENSTORM_FLOW", "client_credentials");
    static final String GRAPH = ENV.getOrDefault("TOKENSTORM_GRAPH_URL", "https://graph.microsoft.com/v1.0");
    static final Path CACHE_FILE =
            Path.of(ENV.getOrDefault("TOKENSTORM_STATE_DIR", "."), "msal_token_cache.json");
    static final boolean CONFIDENTIAL = FLOW.equals("client_credentials") || FLOW.equals("obo");
    /** The refusals that mean "the user must sign in" (anything else, say a 5xx, is reported). */
    static final Set<String> INTERACTION =
            Set.of("invalid_grant", "interaction_required", "login_required", "consent_required");

    /** The real stdout, for protocol lines only (System.out is pointed at stderr). */
    static PrintStream out;
    static final Object OUT_LOCK = new Object();
    static final Map<String, CompletableFuture<Map<String, Object>>> WAITING = new ConcurrentHashMap<>();

    // ---- logging: stderr, prefixed, tokens shortened ------------------------------------------

    /**
     * Everything written to stderr goes through here, line by line: prefixed with "msal-java: "
     * and with anything token-like (a JWT, or a long run of base64url characters with digits in
     * it) cut to its first 8 characters. msal4j logs through slf4j-simple to System.err, so its
     * messages (which can quote a response body) are filtered too.
     */
    static final class RedactingStream extends OutputStream {
        static final Pattern TOKENISH =
                Pattern.compile("eyJ[A-Za-z0-9_-]*(?:\\.[A-Za-z0-9_-]*)*|(?=[A-Za-z0-9_-]*[0-9])(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{20,}");
        private final OutputStream sink;
        private final java.io.ByteArrayOutputStream line = new java.io.ByteArrayOutputStream();

        RedactingStream(OutputStream sink) {
            this.sink = sink;
        }

        static String redact(String s) {
            Matcher m = TOKENISH.matcher(s);
            StringBuilder b = new StringBuilder();
            while (m.find()) {
                String t = m.group();
                m.appendReplacement(b, Matcher.quoteReplacement(t.substring(0, Math.min(8, t.length())) + "..."));
            }
            m.appendTail(b);
            return b.toString();
        }

        @Override
        public synchronized void write(int b) {
            if (b == '\n') {
                emit();
            } else {
                line.write(b);
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            for (int k = off; k < off + len; k++) write(b[k]);
        }

        @Override
        public synchronized void flush() {
            // Lines go out whole, when they end.
        }

        private void emit() {
            String text = line.toString(StandardCharsets.UTF_8);
            line.reset();
            try {
                sink.write(("msal-java: " + redact(text) + "\n").getBytes(StandardCharsets.UTF_8));
                sink.flush();
            } catch (java.io.IOException ignored) {
                // stderr gone: nothing to tell anyone
            }
        }
    }

    static void log(String msg) {
        System.err.println(msg);
    }

    static void send(Map<String, Object> msg) {
        String line = Json.write(msg);
        synchronized (OUT_LOCK) {
            out.print(line);
            out.print('\n');
            out.flush();
        }
    }

    // ---- trust: the run's CA, for msal4j and for the API calls ---------------------------------

    /** An SSLContext trusting the PEM certificates of TOKENSTORM_CA_BUNDLE (or the JDK's default). */
    static SSLContext sslContext() throws Exception {
        String bundle = ENV.get("TOKENSTORM_CA_BUNDLE");
        if (bundle == null || bundle.isEmpty()) return SSLContext.getDefault();
        KeyStore trust = KeyStore.getInstance(KeyStore.getDefaultType());
        trust.load(null, null);
        CertificateFactory cf = CertificateFactory.getInstance("X.509");
        int n = 0;
        try (InputStream in = Files.newInputStream(Path.of(bundle))) {
            for (Certificate c : cf.generateCertificates(in)) trust.setCertificateEntry("tokenstorm-ca-" + n++, c);
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        return ctx;
    }

    // ---- the app, as a typical msal4j app sets it up -------------------------------------------

    /**
     * The persisted cache (msal4j's ITokenCacheAccessAspect): the file is read into msal4j's cache
     * at the first access, and msal4j's serialize() is written back after every access that
     * changed the cache. This process is the file's only user, so it is read once; writes are
     * serialized so that the last one holds the latest state.
     */
    static final class FileCache implements ITokenCacheAccessAspect {
        private boolean loaded;

        @Override
        public synchronized void beforeCacheAccess(ITokenCacheAccessContext ctx) {
            if (loaded) return;
            loaded = true;
            try {
                if (Files.exists(CACHE_FILE)) ctx.tokenCache().deserialize(Files.readString(CACHE_FILE));
            } catch (Exception e) {
                log("could not read the token cache file: " + e);
            }
        }

        @Override
        public synchronized void afterCacheAccess(ITokenCacheAccessContext ctx) {
            if (!ctx.hasCacheChanged()) return;
            try {
                Files.writeString(CACHE_FILE, ctx.tokenCache().serialize());
            } catch (Exception e) {
                log("could not write the token cache file: " + e);
            }
        }
    }

    static SSLContext tls;
    private static HttpClient http;

    /** The app's HTTP client for the API (made at the first API call, with the run's CA). */
    static synchronized HttpClient http() throws Exception {
        makeApp();
        if (http == null) {
            http = HttpClient.newBuilder()
                    .sslContext(tls)
                    .connectTimeout(Duration.ofMillis(TIMEOUT_MS))
                    .build();
        }
        return http;
    }
    static ConfidentialClientApplication confidential;
    static PublicClientApplication publicApp;

    /**
     * Instance metadata for an authority on a port other than 443 (the mock's), or null.
     *
     * <p>msal4j 1.26.1 names the cache's "environment" after the authority's host without its
     * port (AadInstanceDiscoveryProvider.getMetadataEntry looks up URL.getHost(), and with
     * instance discovery off caches an entry for that host, whose preferred_cache becomes the
     * environment tokens are saved under), but looks cached tokens up by the host with its port
     * (Authority.host is URL.getAuthority(): TokenCache.getCachedAuthenticationResult asks
     * getAliases("127.0.0.1:PORT")), and AcquireTokenSilentSupplier swaps the account's
     * environment (no port) into the authority before a refresh. On Entra (port 443) both are
     * the same; on the mock, an app's tokens would never be found in the cache and refresh
     * tokens would go to port 443. msal4j's documented aadInstanceDiscoveryResponse option
     * (instance metadata given by the app instead of fetched) names the host with its port as
     * the cache's environment and an alias, so msal4j behaves here as it does on Entra.
     */
    static String instanceMetadata() {
        URI a = URI.create(AUTHORITY);
        if (a.getPort() < 0 || a.getPort() == 443) return null;
        String host = a.getHost().toLowerCase(java.util.Locale.ROOT);
        String hostPort = host + ":" + a.getPort();
        return Json.write(msg(
                "tenant_discovery_endpoint", AUTHORITY.replaceAll("/+$", "") + "/v2.0/.well-known/openid-configuration",
                "api-version", "1.1",
                "metadata", List.of(msg(
                        "preferred_network", host,
                        "preferred_cache", hostPort,
                        "aliases", List.of(host, hostPort)))));
    }

    /**
     * Whether the authority is at Entra's real host (`tokenstorm run --impersonate`): msal4j then
     * runs with its defaults, instance discovery included; elsewhere (the mock's own 127.0.0.1
     * address) it must be off, or AadInstanceDiscoveryProvider asks login.microsoftonline.com
     * about the authority's host.
     */
    static boolean entraHost() {
        String host = URI.create(AUTHORITY).getHost();
        return Set.of("login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net")
                .contains(host == null ? "" : host.toLowerCase(java.util.Locale.ROOT));
    }

    /** Makes the app object (no network: msal4j derives Entra endpoints from the authority). */
    static synchronized void makeApp() throws Exception {
        if (confidential != null || publicApp != null) return;
        tls = sslContext();
        Set<String> cp1 = Set.of("cp1");
        String metadata = instanceMetadata();
        boolean discovery = entraHost();
        if (CONFIDENTIAL) {
            ConfidentialClientApplication.Builder builder = ConfidentialClientApplication.builder(CLIENT_ID, ClientCredentialFactory.createFromSecret(SECRET))
                    .authority(AUTHORITY)
                    .instanceDiscovery(discovery)
                    .clientCapabilities(cp1)
                    .setTokenCacheAccessAspect(new FileCache())
                    .sslSocketFactory(tls.getSocketFactory())
                    .connectTimeoutForDefaultHttpClient(TIMEOUT_MS)
                    .readTimeoutForDefaultHttpClient(TIMEOUT_MS);
            if (metadata != null) builder.aadInstanceDiscoveryResponse(metadata);
            confidential = builder.build();
        } else {
            PublicClientApplication.Builder builder = PublicClientApplication.builder(CLIENT_ID)
                    .authority(AUTHORITY)
                    .instanceDiscovery(discovery)
                    .clientCapabilities(cp1)
                    .setTokenCacheAccessAspect(new FileCache())
                    .sslSocketFactory(tls.getSocketFactory())
                    .connectTimeoutForDefaultHttpClient(TIMEOUT_MS)
                    .readTimeoutForDefaultHttpClient(TIMEOUT_MS);
            if (metadata != null) builder.aadInstanceDiscoveryResponse(metadata);
            publicApp = builder.build();
        }
    }

    /** A failure the driver reports as such (the error text is informational). */
    static final class Failed extends RuntimeException {
        final String error;
        final String description;

        Failed(String error, String description) {
            super(error + ": " + description);
            this.error = error;
            this.description = description;
        }
    }

    /** The ID token claims of the latest result that carried one (whoami). */
    static volatile Map<String, Object> lastClaims = Map.of();
    static volatile IAccount lastAccount;
    /** sign-in (oid + iat of its ID token) -> groups from Graph. */
    static final Map<String, List<Object>> OVERAGE_GROUPS = new ConcurrentHashMap<>();

    static Map<String, Object> jwtClaims(String jwt) {
        String[] parts = jwt == null ? new String[0] : jwt.split("\\.");
        if (parts.length < 2) return Map.of();
        try {
            return Json.parseObject(new String(Base64.getUrlDecoder().decode(parts[1]), StandardCharsets.UTF_8));
        } catch (RuntimeException e) {
            return Map.of();
        }
    }

    static String tokenOf(IAuthenticationResult result, String what) {
        if (result == null || result.accessToken() == null || result.accessToken().isEmpty()) {
            // msal4j returns a result without an access token when a 200 carries none.
            throw new Failed("no_token", what + " returned no access token");
        }
        Map<String, Object> claims = jwtClaims(result.idToken());
        if (!claims.isEmpty()) lastClaims = claims;
        if (result.account() != null) lastAccount = result.account();
        return result.accessToken();
    }

    /** The result of one of msal4j's CompletableFutures, with its own exception unwrapped. */
    static <T> T await(CompletableFuture<T> f) throws Exception {
        try {
            return f.get();
        } catch (ExecutionException | CompletionException e) {
            Throwable c = e.getCause() != null ? e.getCause() : e;
            while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) c = c.getCause();
            if (c instanceof Exception) throw (Exception) c;
            throw e;
        }
    }

    static ClaimsRequest claimsRequest(String claims) {
        return claims == null ? null : ClaimsRequest.formatAsClaimsRequest(claims);
    }

    // ---- interaction through the harness -------------------------------------------------------

    static Map<String, Object> ask(Object id, Map<String, Object> message) throws Exception {
        CompletableFuture<Map<String, Object>> answer = new CompletableFuture<>();
        WAITING.put(Json.write(id), answer);
        send(message);
        return answer.get();
    }

    static Map<String, Object> msg(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int k = 0; k < kv.length; k += 2) m.put((String) kv[k], kv[k + 1]);
        return m;
    }

    static Map<String, String> query(String url) {
        Map<String, String> q = new LinkedHashMap<>();
        String raw = URI.create(url).getRawQuery();
        if (raw == null) return q;
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            q.putIfAbsent(k, v);
        }
        return q;
    }

    static String b64url(byte[] b) {
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }

    static final SecureRandom RANDOM = new SecureRandom();

    static String interactive(Object id, Set<String> scopes, String claims) throws Exception {
        if (FLOW.equals("device_code")) {
            DeviceCodeFlowParameters params = DeviceCodeFlowParameters.builder(scopes, (DeviceCode dc) -> {
                        if (dc.userCode() != null && !dc.userCode().isEmpty()) {
                            send(msg("type", "device_code", "id", id, "user_code", dc.userCode(),
                                    "verification_uri", dc.verificationUri()));
                        } else {
                            log("device code callback without a user code");
                        }
                    })
                    .claims(claimsRequest(claims))
                    .build();
            return tokenOf(await(publicApp.acquireToken(params)), "acquireToken(DeviceCodeFlowParameters)");
        }
        // Authorization code with PKCE, as a server-side web app does it with msal4j: the app
        // makes the verifier, the state and the nonce, msal4j the URL; the redirect's code goes
        // to acquireToken(AuthorizationCodeParameters).
        byte[] raw = new byte[32];
        RANDOM.nextBytes(raw);
        String verifier = b64url(raw);
        String challenge = b64url(MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII)));
        String state = UUID.randomUUID().toString();
        String nonce = UUID.randomUUID().toString();
        AuthorizationRequestUrlParameters.Builder url = AuthorizationRequestUrlParameters.builder(REDIRECT_URI, scopes)
                .codeChallenge(challenge)
                .codeChallengeMethod("S256")
                .state(state)
                .nonce(nonce);
        if (claims != null) url.claims(claimsRequest(claims));
        String authorizeUrl = publicApp.getAuthorizationRequestUrl(url.build()).toString();
        Map<String, Object> answer = ask(id, msg("type", "browse", "id", id, "url", authorizeUrl));
        if (answer.get("error") != null) throw new Failed("user_cancelled", String.valueOf(answer.get("error")));
        Map<String, String> q = query(String.valueOf(answer.get("url")));
        if (q.containsKey("error")) throw new Failed(q.get("error"), q.getOrDefault("error_description", ""));
        if (!state.equals(q.get("state"))) throw new Failed("state_mismatch", "the redirect's state is not the one sent");
        if (q.get("code") == null) throw new Failed("no_code", "the redirect carries no code");
        AuthorizationCodeParameters.AuthorizationCodeParametersBuilder redeem =
                AuthorizationCodeParameters.builder(q.get("code"), new URI(REDIRECT_URI))
                        .scopes(scopes)
                        .codeVerifier(verifier);
        if (claims != null) redeem.claims(claimsRequest(claims));
        IAuthenticationResult result = await(publicApp.acquireToken(redeem.build()));
        Object gotNonce = jwtClaims(result.idToken()).get("nonce");
        if (gotNonce != null && !nonce.equals(gotNonce)) throw new Failed("nonce_mismatch", "the ID token's nonce is not the one sent");
        return tokenOf(result, "acquireToken(AuthorizationCodeParameters)");
    }

    static String acquire(Object id, List<String> scopeList, String assertion, String claims) throws Exception {
        makeApp();
        Set<String> scopes = new LinkedHashSet<>(scopeList);
        if (FLOW.equals("client_credentials")) {
            return tokenOf(await(confidential.acquireToken(
                    ClientCredentialParameters.builder(scopes).claims(claimsRequest(claims)).build())),
                    "acquireToken(ClientCredentialParameters)");
        }
        if (FLOW.equals("obo")) {
            return tokenOf(await(confidential.acquireToken(
                    OnBehalfOfParameters.builder(scopes, new UserAssertion(assertion)).claims(claimsRequest(claims)).build())),
                    "acquireToken(OnBehalfOfParameters)");
        }
        Set<IAccount> accounts = await(publicApp.getAccounts());
        if (!accounts.isEmpty()) {
            IAccount account = accounts.iterator().next();
            try {
                SilentParameters silent = SilentParameters.builder(scopes, account)
                        .claims(claimsRequest(claims))
                        .build();
                return tokenOf(await(publicApp.acquireTokenSilently(silent)), "acquireTokenSilently");
            } catch (MsalInteractionRequiredException e) {
                // msal4j's own "the user must sign in" (an invalid_grant refusal).
                if (e.claims() != null && !e.claims().isEmpty()) claims = e.claims();
            } catch (MsalServiceException e) {
                // Only a refusal that needs the user goes interactive; a transient failure (a 5xx,
                // a 429, a throttled request) is reported as such.
                if (!INTERACTION.contains(e.errorCode())) throw e;
                // A refusal that names claims (a Conditional Access step-up): the sign-in carries
                // them, as Microsoft's guidance does with the exception's claims.
                if (e.claims() != null && !e.claims().isEmpty()) claims = e.claims();
            } catch (MsalClientException e) {
                // "cache_miss": nothing usable for this account (no refresh token); anything
                // else (a timeout, a reset, a malformed answer) is reported.
                if (!"cache_miss".equals(e.errorCode())) throw e;
            }
        }
        return interactive(id, scopes, claims);
    }

    // ---- the operations -------------------------------------------------------------------------

    static final Pattern CLAIMS_PARAM = Pattern.compile("claims=\"([^\"]+)\"");

    /** The decoded claims of a CAE insufficient_claims challenge, or null. */
    static String challengeClaims(String wwwAuthenticate) {
        if (wwwAuthenticate == null || !wwwAuthenticate.contains("insufficient_claims")) return null;
        Matcher m = CLAIMS_PARAM.matcher(wwwAuthenticate);
        if (!m.find()) return null;
        String raw = m.group(1).replace('-', '+').replace('_', '/');
        while (raw.length() % 4 != 0) raw += "=";
        return new String(Base64.getDecoder().decode(raw), StandardCharsets.UTF_8);
    }

    static HttpResponse<String> callOnce(String method, String url, String token) throws Exception {
        HttpRequest req = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofMillis(TIMEOUT_MS))
                .header("Authorization", "Bearer " + token)
                .method(method, HttpRequest.BodyPublishers.noBody())
                .build();
        return http().send(req, HttpResponse.BodyHandlers.ofString());
    }

    static Map<String, Object> callApi(Object id, String method, String url, String assertion) throws Exception {
        HttpResponse<String> r = callOnce(method, url, acquire(id, SCOPES, assertion, null));
        String claims = r.statusCode() == 401 ? challengeClaims(r.headers().firstValue("www-authenticate").orElse(null)) : null;
        if (claims != null) r = callOnce(method, url, acquire(id, SCOPES, assertion, claims));
        Object body;
        try {
            body = Json.parse(r.body());
        } catch (RuntimeException e) {
            String text = r.body() == null ? "" : r.body();
            body = text.length() > 2000 ? text.substring(0, 2000) : text;
        }
        return msg("ok", r.statusCode() >= 200 && r.statusCode() < 300, "status", r.statusCode(), "body", body);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> whoami(Object id) throws Exception {
        String token = acquire(id, SCOPES, null, null);
        Map<String, Object> c = lastClaims;
        if (c.isEmpty() && lastAccount != null) c = Map.of("preferred_username", lastAccount.username());
        Object groups = c.getOrDefault("groups", List.of());
        Object claimNames = c.get("_claim_names");
        boolean overage = (claimNames instanceof Map && ((Map<String, Object>) claimNames).containsKey("groups"))
                || Boolean.TRUE.equals(c.get("hasgroups"));
        if (overage) {
            String key = c.get("oid") + "|" + c.get("iat");
            List<Object> known = OVERAGE_GROUPS.get(key);
            if (known == null) {
                HttpRequest req = HttpRequest.newBuilder(URI.create(GRAPH + "/me/getMemberObjects"))
                        .timeout(Duration.ofMillis(TIMEOUT_MS))
                        .header("Authorization", "Bearer " + token)
                        .header("Content-Type", "application/json")
                        .POST(HttpRequest.BodyPublishers.ofString("{\"securityEnabledOnly\":false}"))
                        .build();
                HttpResponse<String> r = http().send(req, HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() < 200 || r.statusCode() >= 300) {
                    throw new Failed("graph_error", "getMemberObjects answered " + r.statusCode());
                }
                Object value = Json.parseObject(r.body()).get("value");
                known = value instanceof List ? (List<Object>) value : new ArrayList<>();
                OVERAGE_GROUPS.put(key, known);
            }
            groups = known;
        }
        return msg("ok", true,
                "name", c.getOrDefault("name", ""),
                "username", c.getOrDefault("preferred_username", ""),
                "oid", c.getOrDefault("oid", ""),
                "roles", c.getOrDefault("roles", List.of()),
                "groups", groups);
    }

    @SuppressWarnings("unchecked")
    static void handle(Map<String, Object> m) {
        Object id = m.get("id");
        String op = String.valueOf(m.get("op"));
        Map<String, Object> answer;
        try {
            switch (op) {
                case "acquire_token": {
                    Object s = m.get("scopes");
                    List<String> scopes = s instanceof List && !((List<Object>) s).isEmpty()
                            ? ((List<Object>) s).stream().map(String::valueOf).toList()
                            : SCOPES;
                    String assertion = m.get("assertion") == null ? null : String.valueOf(m.get("assertion"));
                    answer = msg("ok", true, "access_token", acquire(id, scopes, assertion, null));
                    break;
                }
                case "call_api":
                    answer = callApi(id, String.valueOf(m.getOrDefault("method", "GET")), String.valueOf(m.get("url")),
                            m.get("assertion") == null ? null : String.valueOf(m.get("assertion")));
                    break;
                case "whoami":
                    answer = whoami(id);
                    break;
                default:
                    answer = msg("ok", false, "error", "unsupported", "description", op);
            }
        } catch (Failed e) {
            answer = msg("ok", false, "error", e.error, "description", RedactingStream.redact(cut(e.description, 500)));
        } catch (Throwable e) {
            // msal4j threw (a refusal, a 5xx, a timeout, a reset, a malformed answer): a failure
            // is an answer too; what reached the mock is judged.
            String error = e instanceof MsalException && ((MsalException) e).errorCode() != null
                    ? ((MsalException) e).errorCode()
                    : e.getClass().getSimpleName();
            String description = String.valueOf(e.getMessage());
            if (e.getCause() != null && e.getCause() != e) description += " (" + e.getCause() + ")";
            log(op + " failed: " + error + ": " + cut(description, 300));
            answer = msg("ok", false, "error", error, "description", RedactingStream.redact(cut(description, 500)));
        }
        Map<String, Object> result = msg("type", "result", "id", id);
        result.putAll(answer);
        send(result);
    }

    /** msal4j's version, from the Maven metadata its jar carries (kept in the driver's jar). */
    static String msal4jVersion() {
        try (InputStream in = Driver.class.getClassLoader()
                .getResourceAsStream("META-INF/maven/com.microsoft.azure/msal4j/pom.properties")) {
            java.util.Properties p = new java.util.Properties();
            if (in != null) p.load(in);
            return p.getProperty("version", "unknown");
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    static String cut(String s, int n) {
        return s == null ? "" : s.length() > n ? s.substring(0, n) : s;
    }

    public static void main(String[] args) throws Exception {
        out = new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.UTF_8);
        PrintStream err = new PrintStream(new RedactingStream(new FileOutputStream(FileDescriptor.err)), true, StandardCharsets.UTF_8);
        System.setErr(err);
        System.setOut(err); // nothing but protocol lines on stdout, whoever prints
        // slf4j-simple (msal4j's logging): warnings and errors, to the filtered stderr.
        System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "warn");
        System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
        System.setProperty("org.slf4j.simpleLogger.showThreadName", "false");
        System.setProperty("org.slf4j.simpleLogger.showShortLogName", "true");

        // Set msal4j up first, as an app does at startup (no network: msal4j derives the Entra
        // endpoints from the authority), and say hello once ready. If it fails (an unreadable CA
        // bundle, say), the commands try again and report the error.
        try {
            makeApp();
        } catch (Exception e) {
            log("making the app failed: " + e);
        }
        send(msg("type", "hello", "protocol", 1, "client", "msal-java", "version", msal4jVersion(),
                "flows", List.of("client_credentials", "auth_code", "device_code", "obo"),
                // No "discovery": msal4j derives Entra endpoints from the authority URL
                // (AADAuthority) and never fetches OpenID discovery.
                "features", List.of("persist", "whoami", "call_api", "cae")));

        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            Map<String, Object> m;
            try {
                m = Json.parseObject(line);
            } catch (IllegalArgumentException e) {
                log("ignoring a non-JSON line from the harness");
                continue;
            }
            Object type = m.get("type");
            if ("command".equals(type)) {
                if ("shutdown".equals(m.get("op"))) {
                    // The cache file is written after every change (FileCache); nothing else to keep.
                    send(msg("type", "result", "id", m.get("id"), "ok", true));
                    System.exit(0);
                }
                Thread t = new Thread(() -> handle(m), "command-" + m.get("id"));
                t.setDaemon(true);
                t.start();
            } else if ("browsed".equals(type)) {
                CompletableFuture<Map<String, Object>> waiting = WAITING.remove(Json.write(m.get("id")));
                if (waiting != null) waiting.complete(m);
            }
        }
        System.exit(0);
    }
}
