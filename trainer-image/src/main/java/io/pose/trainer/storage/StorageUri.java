package io.pose.trainer.storage;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A location in one of the storage schemes sources and targets share (the api module's URI rules accept the same
 * shapes): {@code hf://org/name[@revision]} and {@code hf://datasets/org/name[@revision][/path]} (the Hugging Face
 * Hub), {@code s3://bucket[/prefix]}, {@code oci://registry[:port]/repository[:tag]}, {@code pvc://claim[/path]} and
 * {@code file:///path}.
 *
 * @param scheme the scheme
 * @param authority hf: the repository id (org/name); s3: the bucket; oci: the registry host[:port]; pvc: the claim;
 *     file: empty
 * @param path hf: the path inside the repository (datasets) or empty; s3: the key prefix without leading or
 *     trailing slashes; oci: the repository; pvc and file: the path (file: absolute)
 * @param reference hf: the revision; oci: the tag; otherwise null
 * @param dataset hf: whether the repository is a dataset repository
 */
public record StorageUri(Scheme scheme, String authority, String path, String reference, boolean dataset,
    String uri) {

  public enum Scheme {
    HF, S3, OCI, PVC, FILE;

    public String prefix() {
      return name().toLowerCase(Locale.ROOT) + "://";
    }
  }

  /** A model repository: everything after '@' is the revision (branches and refs/pr/N hold slashes). */
  private static final Pattern HF_MODEL = Pattern.compile(
      "hf://([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)(@(\\S+))?");
  /** A dataset repository: the revision has no slash, what follows it is a path in the repository. */
  private static final Pattern HF_DATASET = Pattern.compile(
      "hf://datasets/([A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*)(@([^/\\s]+))?(/(\\S*))?");
  private static final Pattern S3 = Pattern.compile("s3://([a-z0-9][a-z0-9.-]*[a-z0-9])(/(\\S*))?");
  private static final Pattern OCI = Pattern.compile(
      "oci://([a-z0-9][a-z0-9.-]*(:[0-9]+)?)/([a-z0-9][a-z0-9._/-]*?)(:([A-Za-z0-9_][A-Za-z0-9._-]{0,127}))?");
  private static final Pattern PVC = Pattern.compile("pvc://([a-z0-9]([-a-z0-9]*[a-z0-9])?)(/(\\S*))?");
  private static final Pattern FILE = Pattern.compile("file://(/\\S*)");

  /**
   * @param field the spec field the URI comes from, named in the error
   * @throws InvalidUriException naming the field and the accepted shapes
   */
  public static StorageUri parse(String uri, String field) {
    if (uri == null || uri.isBlank()) {
      throw new InvalidUriException(field + ": a URI is required");
    }
    Matcher m;
    if ((m = HF_DATASET.matcher(uri)).matches()) {
      return new StorageUri(Scheme.HF, m.group(1), m.group(5) == null ? "" : trimSlashes(m.group(5)), m.group(3), true,
          uri);
    }
    if ((m = HF_MODEL.matcher(uri)).matches()) {
      return new StorageUri(Scheme.HF, m.group(1), "", m.group(3), false, uri);
    }
    if (uri.startsWith("hf://") && !uri.startsWith("hf://datasets/") && uri.substring(5).split("/").length > 2
        && !uri.contains("@")) {
      throw new InvalidUriException(field + ": \"" + uri + "\": a model repository is hf://org/name[@revision], "
          + "without a path (paths select files of dataset repositories: hf://datasets/org/name/path)");
    }
    if ((m = S3.matcher(uri)).matches()) {
      return new StorageUri(Scheme.S3, m.group(1), m.group(3) == null ? "" : trimSlashes(m.group(3)), null, false, uri);
    }
    if ((m = OCI.matcher(uri)).matches()) {
      return new StorageUri(Scheme.OCI, m.group(1), m.group(3), m.group(5) == null ? "latest" : m.group(5), false, uri);
    }
    if ((m = PVC.matcher(uri)).matches()) {
      return new StorageUri(Scheme.PVC, m.group(1), m.group(4) == null ? "" : trimSlashes(m.group(4)), null, false, uri);
    }
    if ((m = FILE.matcher(uri)).matches()) {
      return new StorageUri(Scheme.FILE, "", m.group(1), null, false, uri);
    }
    int colon = uri.indexOf("://");
    String scheme = colon > 0 ? uri.substring(0, colon) : null;
    boolean known = scheme != null && java.util.Arrays.stream(Scheme.values()).anyMatch(s -> s.prefix().equals(scheme + "://"));
    throw new InvalidUriException(field + ": \"" + uri + "\" " + (known ? "is not a valid " + scheme + ":// URI"
        : scheme == null ? "has no scheme" : "has the unknown scheme \"" + scheme + "\"")
        + "; use hf://org/name[@revision], hf://datasets/org/name[@revision][/path], s3://bucket/prefix, "
        + "oci://registry/repository[:tag], pvc://claim/path or file:///path");
  }

  private static String trimSlashes(String s) {
    return s.replaceAll("^/+", "").replaceAll("/+$", "");
  }

  @Override
  public String toString() {
    return uri;
  }
}
