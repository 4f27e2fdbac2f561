package io.pose.trainer.storage.hub;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A repository at one commit as the Hub's revision API describes it ({@code GET
 * /api/{models|datasets}/{repo}/revision/{revision}?blobs=true}, what huggingface_hub's {@code model_info} and
 * {@code dataset_info} call with {@code files_metadata=True}): the commit sha and every file with its size, git blob
 * id and, for LFS files, the sha256 of the content.
 *
 * @param sha the commit, 40 hex digits
 * @param files in the Hub's order
 */
public record HubRevision(String sha, List<File> files) {

  public static final Pattern COMMIT_SHA = Pattern.compile("[0-9a-f]{40}");

  /**
   * One file ("sibling").
   *
   * @param path relative to the repository root
   * @param size of the content (of an LFS file: the object, not its pointer)
   * @param blobId the git blob id (of an LFS file: the blob id of its pointer)
   * @param lfsSha256 the content's sha256 for an LFS file, null for a file stored in git
   */
  public record File(String path, long size, String blobId, String lfsSha256) {}

  /** The API path (with {@code ?blobs=true}) for a repository id and a revision, which may contain '/'. */
  public static String apiPath(boolean dataset, String repo, String revision) {
    return "/api/" + (dataset ? "datasets" : "models") + "/" + repo + "/revision/" + HubHttp.segment(revision)
        + "?blobs=true";
  }

  /**
   * @param what the request in words, for errors
   * @throws IOException when the answer has no commit sha or a file without a name or size
   */
  public static HubRevision parse(JsonNode info, String what) throws IOException {
    String sha = info.path("sha").asText();
    if (!COMMIT_SHA.matcher(sha).matches()) {
      throw new IOException(what + ": the Hub gave no commit sha");
    }
    List<File> files = new ArrayList<>();
    for (JsonNode s : info.path("siblings")) {
      String path = s.path("rfilename").asText("");
      long size = s.path("size").asLong(-1);
      if (path.isEmpty() || size < 0) {
        throw new IOException(what + ": the Hub listed a file without a name or size: " + s);
      }
      JsonNode lfs = s.get("lfs");
      files.add(new File(path, size, s.path("blobId").asText(null),
          lfs == null || lfs.isNull() ? null : lfs.path("sha256").asText(null)));
    }
    return new HubRevision(sha, List.copyOf(files));
  }
}
