package io.pose.trainer.publish;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.trainer.storage.CredentialsException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The Hub's HTTP calls with retries: exponential backoff (honouring Retry-After and the Hub's RateLimit header) on
 * 408, 429, 5xx and connection errors, for every request, uploads included. The token goes only to the endpoint's own
 * origin, never to presigned storage URLs; it is never logged and never put in an exception message.
 */
final class HubHttp {

  static final System.Logger LOG = System.getLogger(HubTarget.class.getName());
  static final ObjectMapper JSON = new ObjectMapper();

  /** Who a request is for: the Hub's API (bearer token) or storage behind a presigned URL (no credentials). */
  enum Auth { HUB, PRESIGNED }

  /**
   * @param attempts tries per request, the first included
   * @param first the wait after the first failure; each further wait doubles, up to {@code max}
   * @param max the longest backoff wait; a server's Retry-After is honoured up to {@code maxRetryAfter}
   */
  record Backoff(int attempts, Duration first, Duration max, Duration maxRetryAfter) {
    Backoff {
      if (attempts < 1) {
        throw new IllegalArgumentException("attempts: " + attempts + " is not >= 1");
      }
    }

    /** Like huggingface_hub's http_backoff (6 tries, 1 s doubling to 8 s), a little longer for multi-GB uploads. */
    static Backoff defaults() {
      return new Backoff(6, Duration.ofSeconds(1), Duration.ofSeconds(16), Duration.ofMinutes(5));
    }
  }

  /** A response with its body read (API answers are small; uploads answer with headers only). */
  record Response(int status, HttpHeaders headers, byte[] body) {
    boolean ok() {
      return status / 100 == 2;
    }

    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }

    /** The Hub's own error text (X-Error-Message header or the JSON "error"/"message" field), shortened. */
    String message() {
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

  private static final Pattern RATE_LIMIT = Pattern.compile("r\\s*=\\s*(\\d+)\\s*;\\s*t\\s*=\\s*(\\d+)");

  private final HttpClient client;
  private final URI endpoint;
  private final String token;
  private final String repo;
  private final Backoff backoff;

  /**
   * @param token the bearer token for the Hub's API, or null
   * @param repo the repository id (org/name) named in errors
   */
  HubHttp(HttpClient client, URI endpoint, String token, String repo, Backoff backoff) {
    this.client = client;
    this.endpoint = endpoint;
    this.token = token;
    this.repo = repo;
    this.backoff = backoff;
  }

  URI endpoint() {
    return endpoint;
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
  Response send(String what, Auth auth, Supplier<HttpRequest.Builder> request) throws IOException {
    Duration wait = backoff.first();
    for (int attempt = 1; ; attempt++) {
      HttpRequest.Builder b = request.get();
      HttpRequest built = b.copy().build();
      if (auth == Auth.HUB && token != null && sameOrigin(built.uri(), endpoint)) {
        b.header("Authorization", "Bearer " + token);
      }
      Response response;
      try {
        HttpResponse<byte[]> r = client.send(b.build(), HttpResponse.BodyHandlers.ofByteArray());
        response = new Response(r.statusCode(), r.headers(), r.body());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException(what + ": interrupted");
      } catch (IOException e) {
        // connection refused, reset or dropped mid-upload, timeouts: all transient
        String failure = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : " (" + e.getMessage() + ")");
        if (attempt >= backoff.attempts()) {
          throw new IOException(what + ": " + failure + " after " + attempt + " tries", e);
        }
        LOG.log(System.Logger.Level.WARNING, "{0}: {1}; try {2} of {3} in {4} ms",
            what, failure, attempt + 1, backoff.attempts(), wait.toMillis());
        sleep(wait, what);
        wait = next(wait);
        continue;
      }
      int status = response.status();
      if ((status == 401 || status == 403) && auth == Auth.HUB) {
        throw new CredentialsException("the Hub rejected the token for " + repo + ": HTTP " + status + " (" + what
            + ")");
      }
      if (status == 403) {
        // a presigned URL that storage refuses has expired or was altered: a new publish gets fresh ones
        throw new IOException(what + ": storage refused the presigned URL: " + response.message());
      }
      if (!transientStatus(status, response)) {
        LOG.log(System.Logger.Level.DEBUG, "{0}: HTTP {1}", what, status);
        return response;
      }
      if (attempt >= backoff.attempts()) {
        throw new IOException(what + ": " + response.message() + " after " + attempt + " tries");
      }
      Duration retryAfter = serverWait(response.headers());
      Duration pause = retryAfter != null ? retryAfter : wait;
      LOG.log(System.Logger.Level.WARNING, "{0}: HTTP {1}; try {2} of {3} in {4} ms{5}", what, status, attempt + 1,
          backoff.attempts(), pause.toMillis(), retryAfter != null ? " (as the server asked)" : "");
      sleep(pause, what);
      if (retryAfter == null) {
        wait = next(wait);
      }
    }
  }

  private static boolean transientStatus(int status, Response r) {
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
      Thread.currentThread().interrupt();
      throw new InterruptedIOException(what + ": interrupted");
    }
  }

  static boolean sameOrigin(URI a, URI b) {
    return a.getScheme().equalsIgnoreCase(b.getScheme()) && a.getHost().equalsIgnoreCase(b.getHost())
        && port(a) == port(b);
  }

  private static int port(URI u) {
    return u.getPort() != -1 ? u.getPort() : "https".equalsIgnoreCase(u.getScheme()) ? 443 : 80;
  }
}
