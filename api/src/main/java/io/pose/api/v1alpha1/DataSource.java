package io.pose.api.v1alpha1;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyDescription;
import io.fabric8.generator.annotation.Min;
import io.fabric8.generator.annotation.Pattern;
import io.fabric8.generator.annotation.Required;
import io.fabric8.generator.annotation.Size;
import io.pose.api.validation.Rules;

/** A corpus of documents: training text, perplexity documents or a benchmark task file. */
@JsonInclude(JsonInclude.Include.NON_NULL)
public class DataSource {

  /** How the documents are stored. */
  public enum Format {
    /** Records: one JSON object per line, or Parquet files (by extension); the text is in {@code textField}. */
    @JsonProperty("jsonl") JSONL,
    /** Plain UTF-8 text files; one document per file. */
    @JsonProperty("text") TEXT,
    /** Pre-tokenized binary token files. */
    @JsonProperty("tokens") TOKENS;

    public String wireName() { return name().toLowerCase(java.util.Locale.ROOT); }
  }

  @Required
  @Pattern(Rules.DATA_URI_PATTERN)
  @Size(max = Rules.MAX_URI_LENGTH)
  @JsonPropertyDescription("hf://datasets/org/name[@revision][/path] | s3://bucket/prefix | pvc://claim/path | file:///path")
  private String source;

  @JsonPropertyDescription("jsonl (records: JSON-lines or Parquet files) | text | tokens. Default: " + Defaults.DATA_FORMAT + ".")
  private Format format;

  @Pattern(Rules.JSON_FIELD_PATTERN)
  @Size(max = 128)
  @JsonPropertyDescription("Field of each record (JSON-lines object or Parquet column) that holds the text. Default: " + Defaults.DATA_TEXT_FIELD + ".")
  private String textField;

  @Pattern(Rules.DNS_SUBDOMAIN_PATTERN)
  @Size(max = 253)
  @JsonPropertyDescription("Secret with credentials for the source; mounted into the Fetch stage only.")
  private String credentialsSecret;

  @Min(1)
  @JsonPropertyDescription("Skip documents shorter than this many tokens. Training default: the training window (as in the paper).")
  private Integer minTokens;

  public String getSource() { return source; }
  public void setSource(String source) { this.source = source; }
  public Format getFormat() { return format; }
  public void setFormat(Format format) { this.format = format; }
  public String getTextField() { return textField; }
  public void setTextField(String textField) { this.textField = textField; }
  public String getCredentialsSecret() { return credentialsSecret; }
  public void setCredentialsSecret(String credentialsSecret) { this.credentialsSecret = credentialsSecret; }
  public Integer getMinTokens() { return minTokens; }
  public void setMinTokens(Integer minTokens) { this.minTokens = minTokens; }
}
