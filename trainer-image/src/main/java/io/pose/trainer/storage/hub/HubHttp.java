package io.pose.trainer.storage.hub;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.trainer.storage.CredentialsException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.OptionalLong;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Hub's HTTP calls, for uploads and downloads alike, with retries: exponential backoff (honouring Retry-After
 * and the Hub's RateLimit header) on 408, 429, 5xx and connection errors. The token goes only to the endpoint's own
 * origin and only with requests the caller marks as the Hub's, never to presigned storage URLs or redirect targets;
 * it is never logged and never put in an exception message.
 */
public final class HubHttp {

  public static final URI DEFAULT_ENDPOINT = URI.create("https://huggingface.co");
  public static final ObjectMapper JSON = new ObjectMapper();

  /** Who a request is for: the Hub's API (bearer token) or storage behind a presigned URL (no credentials). */
  public enum Auth { HUB, PRESIGNED }

  /**
   * @param attempts tries per request, the first included
   * @param first the wait after the first failure; each further wait doubles, up to {@code max}
   * @param max the longest backoff wait; a server's Retry-After is honoured up to {@code maxRetryAfter}
   */
  public record Backoff(int attempts, Duration first, Duration max, Duration maxRetryAfter) {
    public Backoff {
      if (attempts < 1) {
        throw new IllegalArgumentException("attempts: " + attempts + " is not >= 1");
      }
    }

    /**
     * Like huggingface_hub's http_backoff (6 tries, 1 s doubling to 8 s), a little longer for multi-GB transfers;
     * {@code POSE_HTTP_ATTEMPTS} sets the tries per request (at least 1).
     */
    public static Backoff defaults() {
      return new Backoff(attempts(System.getenv("POSE_HTTP_ATTEMPTS")), Duration.ofSeconds(1), Duration.ofSeconds(16),
          Duration.ofMinutes(5));
    }

    static int attempts(String value) {
      if (value == null || value.isBlank()) {
        return 6;
      }
      try {
        int n = Integer.parseInt(value.strip());
        if (n >= 1) {
          return n;
        }
      } catch (NumberFormatException e) {
        // reported below
      }
      throw new IllegalArgumentException("POSE_HTTP_ATTEMPTS: \"" + value + "\" must be a whole number >= 1");
    }
  }

  /** A response with its body read (API answers and error answers are small; uploads answer with headers only). */
  public record Response(int status, HttpHeaders headers, byte[] body) {
    /** At most this much of an error body is read from a streamed answer. */
    private static final int MAX_ERROR_BODY = 64 * 1024;

    /** Reads the (error) body of a streamed answer, up to 64 KiB, and closes it. */
    public static Response read(HttpResponse<InputStream> r) throws IOException {
      try (InputStream in = r.body()) {
        return new Response(r.statusCode(), r.headers(), in.readNBytes(MAX_ERROR_BODY));
      }
    }

    public boolean ok() {
      return status / 100 == 2;
    }

    public JsonNode json() throws IOException {
      return JSON.readTree(body);
    }

    /** The Hub's error class: RepoNotFound, RevisionNotFound, EntryNotFound, GatedRepo, ... or null. */
    public String errorCode() {
      return headers.firstValue("X-Error-Code").orElse(null);
    }

    /** The Hub's own error text (X-Error-Message header or the JSON "error"/"message" field), shortened. */
    public String message() {
      String m = headers.firstValue("X-Error-Message").orElse(null);
      if (m == null) {
        try {
          JsonNode n = JSON.readTree(body);
          JsonNode text = n.hasNonNull("error") ? n.get("error") : n.get("message");
          m = text == null || text.isNull() ? null : text.asText();
        } catch (IOException | RuntimeException notJson) {
          m = new String(body, StandardCharsets.UTF_8).strip();
        }
      }
      if (m == null || m.isEmpty()) {
        return "HTTP " + status;
      }
      return "HTTP " + status + ": " + (m.length() > 300 ? m.substring(0, 300) + "..." : m);
    }
  }

  /** Turns the Hub's 401 or 403 to a request for the Hub into the error a user can act on (without the token). */
  @FunctionalInterface
  public interface Refusal {
    CredentialsException of(Response response, String what);
  }

  private static final Pattern RATE_LIMIT = Pattern.compile("r\\s*=\\s*(\\d+)\\s*;\\s*t\\s*=\\s*(\\d+)");

  private final HttpClient client;
  private final URI endpoint;
  private final String token;
  private final Backoff backoff;
  private final System.Logger log;
  private final Refusal refusal;

  /**
   * Refusals read "the Hub rejected the token for {repo}: HTTP 401 (what)".
   *
   * @param token the bearer token for the Hub's API, or null
   * @param repo the repository id (org/name) named in errors
   * @param log where retries are reported (the caller's logger)
   */
  public HubHttp(HttpClient client, URI endpoint, String token, String repo, Backoff backoff, System.Logger log) {
    this(client, endpoint, token, backoff, log, (r, what) -> new CredentialsException(
        "the Hub rejected the token for " + repo + ": HTTP " + r.status() + " (" + what + ")"));
  }

  public HubHttp(HttpClient client, URI endpoint, String token, Backoff backoff, System.Logger log, Refusal refusal) {
    this.client = client;
    this.endpoint = trimmed(endpoint);
    this.token = token;
    this.backoff = backoff;
    this.log = log;
    this.refusal = refusal;
  }

  /**
   * A client for the Hub: HTTP/1.1 like the storage behind presigned URLs, and no automatic redirects, so that the
   * token never follows one elsewhere.
   */
  public static HttpClient newClient() {
    return HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)
        .followRedirects(HttpClient.Redirect.NEVER)
        .connectTimeout(Duration.ofSeconds(30))
        .build();
  }

  /** {@code HF_ENDPOINT} from the environment (as huggingface_hub reads it), else https://huggingface.co. */
  public static URI endpoint(Map<String, String> environment) {
    String e = environment.get("HF_ENDPOINT");
    return e == null || e.isBlank() ? DEFAULT_ENDPOINT : URI.create(e.strip());
  }

  /** A revision as one path segment ("refs/pr/1" becomes "refs%2Fpr%2F1"), like huggingface_hub's quote(safe=""). */
  public static String segment(String s) {
    return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
  }

  /** A path in a repository as URL path segments: each '/'-separated part encoded, the slashes kept. */
  public static String path(String repoPath) {
    StringBuilder b = new StringBuilder();
    for (String part : repoPath.split("/", -1)) {
      b.append(b.length() == 0 ? "" : "/").append(segment(part));
    }
    return b.toString();
  }

  public URI endpoint() {
    return endpoint;
  }

  /** Whether a token goes with requests to the Hub. */
  public boolean hasToken() {
    return token != null;
  }

  /**
   * Sends one logical request, retrying transient failures.
   *
   * @param what the request in words, for logs and errors (no URL: presigned URLs carry signatures)
   * @param request builds a fresh request per try (so an upload body is read again from its file)
   * @return the response to a non-transient status (2xx, or a 4xx other than 401/403/408/429 for the caller)
   * @throws CredentialsException when the Hub answers 401 or 403 to an API request
   * @throws IOException after the last try failed with a transient error
   */
  public Response send(String what, Auth auth, Supplier<HttpRequest.Builder> request) throws IOException {
    Retry retry = retry(what);
    while (true) {
      Response response;
      try {
        HttpResponse<byte[]> r = client.send(authorized(request.get(), auth).build(),
            HttpResponse.BodyHandlers.ofByteArray());
        response = new Response(r.statusCode(), r.headers(), r.body());
      } catch (InterruptedException e) {
        throw interrupted(what);
      } catch (IOException e) {
        // connection refused, reset or dropped mid-upload, timeouts: all transient
        retry.failed(e);
        continue;
      }
      refuseCredentials(response, auth, what);
      if (!isTransient(response)) {
        log.log(System.Logger.Level.DEBUG, "{0}: HTTP {1}", what, response.status());
        return response;
      }
      retry.failed(response);
    }
  }

  /**
   * One try of a request whose answer is streamed (a download), without retries: the caller reads the body, resumes
   * and retries with {@link #retry}. Redirects are the caller's to follow.
   *
   * @throws IOException when the request fails before an answer (a connection error: transient)
   */
  public HttpResponse<InputStream> open(String what, Auth auth, HttpRequest.Builder request) throws IOException {
    try {
      return client.send(authorized(request, auth).build(), HttpResponse.BodyHandlers.ofInputStream());
    } catch (InterruptedException e) {
      throw interrupted(what);
    }
  }

  /**
   * @throws CredentialsException for a 401 or 403 to a request for the Hub
   * @throws IOException for a 403 from storage: a presigned URL that storage refuses has expired or was altered
   */
  public void refuseCredentials(Response response, Auth auth, String what) throws IOException {
    int status = response.status();
    if ((status == 401 || status == 403) && auth == Auth.HUB) {
      throw refusal.of(response, what);
    }
    if (status == 403) {
      throw new IOException(what + ": storage refused the presigned URL: " + response.message());
    }
  }

  /** Whether a retry may get another answer: 408, 429, 5xx but 501 and 505, the Hub's "conflicting operation". */
  public static boolean isTransient(Response r) {
    int status = r.status();
    if (status == 408 || status == 429) {
      return true;
    }
    if (status == 409) {
      // repository creation racing another operation of the same user: the Hub asks to try again
      return new String(r.body(), StandardCharsets.UTF_8).contains("another conflicting operation is in progress");
    }
    // 501 (not implemented) and 505 will not change on a retry
    return status >= 500 && status != 501 && status != 505;
  }

  /** The tries of one logical request. */
  public Retry retry(String what) {
    return new Retry(what);
  }

  /** Counts the tries of one logical request and waits between them; gives up after the last. */
  public final class Retry {
    private final String what;
    private int attempt = 1;
    private Duration wait = backoff.first();

    private Retry(String what) {
      this.what = what;
    }

    /** A try failed before or while reading its answer: waits for the next, or throws after the last. */
    public void failed(IOException e) throws IOException {
      if (Thread.currentThread().isInterrupted()) {
        throw interrupted(what);
      }
      String failure = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")")
          + " from " + endpoint.getAuthority();
      if (attempt >= backoff.attempts()) {
        throw new IOException(what + ": " + failure + " after " + attempt + " tries", e);
      }
      log.log(System.Logger.Level.WARNING, "{0}: {1}; try {2} of {3} in {4} ms",
          what, failure, attempt + 1, backoff.attempts(), wait.toMillis());
      sleep(wait, what);
      wait = next(wait);
      attempt++;
    }

    /** A try got a transient answer ({@link #isTransient}): waits as the server asks or backs off, or throws. */
    public void failed(Response response) throws IOException {
      if (attempt >= backoff.attempts()) {
        throw new IOException(what + ": " + response.message() + " after " + attempt + " tries");
      }
      Duration retryAfter = serverWait(response.headers());
      Duration pause = retryAfter != null ? retryAfter : wait;
      log.log(System.Logger.Level.WARNING, "{0}: HTTP {1}; try {2} of {3} in {4} ms{5}", what, response.status(),
          attempt + 1, backoff.attempts(), pause.toMillis(), retryAfter != null ? " (as the server asked)" : "");
      sleep(pause, what);
      if (retryAfter == null) {
        wait = next(wait);
      }
      attempt++;
    }

    /** The last try moved a transfer forward: the next failure starts a fresh count and backoff. */
    public void progressed() {
      attempt = 1;
      wait = backoff.first();
    }
  }

  private HttpRequest.Builder authorized(HttpRequest.Builder b, Auth auth) {
    if (auth == Auth.HUB && token != null && sameOrigin(b.copy().build().uri(), endpoint)) {
      b.header("Authorization", "Bearer " + token);
    }
    return b;
  }

  /** Retry-After in seconds, else the Hub's {@code RateLimit: "api";r=0;t=55} reset time, capped. */
  private Duration serverWait(HttpHeaders headers) {
    OptionalLong seconds = OptionalLong.empty();
    String retryAfter = headers.firstValue("Retry-After").map(String::strip).orElse("");
    if (retryAfter.matches("\\d{1,9}")) {
      seconds = OptionalLong.of(Long.parseLong(retryAfter));
    } else {
      Matcher m = RATE_LIMIT.matcher(headers.firstValue("RateLimit").orElse(""));
      if (m.find() && m.group(1).equals("0")) {
        seconds = OptionalLong.of(Long.parseLong(m.group(2)));
      }
    }
    if (seconds.isEmpty()) {
      return null;
    }
    Duration d = Duration.ofSeconds(seconds.getAsLong());
    return d.compareTo(backoff.maxRetryAfter()) > 0 ? backoff.maxRetryAfter() : d;
  }

  private Duration next(Duration wait) {
    Duration doubled = wait.multipliedBy(2);
    return doubled.compareTo(backoff.max()) > 0 ? backoff.max() : doubled;
  }

  private static void sleep(Duration d, String what) throws InterruptedIOException {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      throw interrupted(what);
    }
  }

  private static InterruptedIOException interrupted(String what) {
    Thread.currentThread().interrupt();
    return new InterruptedIOException(what + ": interrupted");
  }

  private static URI trimmed(URI endpoint) {
    String e = endpoint.toString();
    return e.endsWith("/") ? URI.create(e.substring(0, e.length() - 1)) : endpoint;
  }

  static boolean sameOrigin(URI a, URI b) {
    return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
        && port(a) == port(b);
  }

  private static int port(URI u) {
    return u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }
}
