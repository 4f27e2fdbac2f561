package io.pose.trainer.publish;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLGenerator;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.PoseSettings;
import io.pose.api.v1alpha1.TrainingSettings;
import io.pose.trainer.storage.StorageUri;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The model card (README.md) published with the extended model: YAML front matter as the Hugging Face Hub reads it
 * (license and its name/link carried from the base model's card, base_model, tags including pose and long-context,
 * library_name transformers, pipeline_tag), then what was done (base model, lengths, RoPE scaling, PoSE and
 * training settings), the evaluation tables and plots, and how to load the model.
 */
public final class ModelCard {
  private ModelCard() {}

  private static final YAMLMapper YAML = new YAMLMapper(new YAMLFactory()
      .disable(YAMLGenerator.Feature.WRITE_DOC_START_MARKER)
      .enable(YAMLGenerator.Feature.MINIMIZE_QUOTES));

  /** Front matter keys carried from the base model's card. */
  static final List<String> CARRIED = List.of("license", "license_name", "license_link", "language", "datasets");

  /**
   * @param name the published model's name (the resource's)
   * @param spec the spec with defaults applied
   * @param baseCard the base model's README.md, or null
   * @param evaluationMarkdown the evaluation tables (eval/results.md), or null
   * @param plots the plot files published next to the card, relative to it
   */
  public static String render(String name, ContextExtensionSpec spec, String baseCard, String evaluationMarkdown,
      List<String> plots) {
    return render(name, spec, baseCard, null, evaluationMarkdown, plots);
  }

  /**
   * @param baseRevision the base model's revision as the Fetch stage resolved it (its manifest), or null
   */
  public static String render(String name, ContextExtensionSpec spec, String baseCard, String baseRevision,
      String evaluationMarkdown, List<String> plots) {
    ObjectNode front = JsonNodeFactory.instance.objectNode();
    JsonNode base = frontMatter(baseCard);
    for (String key : CARRIED) {
      if (base.has(key)) {
        front.set(key, base.get(key));
      }
    }
    String source = spec.getModel().getSource();
    StorageUri uri = StorageUri.parse(source, "spec.model.source");
    if (uri.scheme() == StorageUri.Scheme.HF) {
      front.put("base_model", uri.authority());
    }
    front.put("library_name", "transformers");
    front.put("pipeline_tag", "text-generation");
    ArrayNode tags = front.putArray("tags");
    // "pose" only for a PoSE run: a baseline's model is tagged with its own method
    List<String> tagList = new ArrayList<>(List.of(switch (spec.getPose().getMethod()) {
      case POSE -> "pose";
      case RANDPOS -> "randpos";
      case FULL -> "full-length-fine-tuning";
    }, "long-context", "context-extension", "rope", spec.getRopeScaling().getType().wireName()));
    if (base.has("tags") && base.get("tags").isArray()) {
      for (JsonNode t : base.get("tags")) {
        if (!tagList.contains(t.asText())) {
          tagList.add(t.asText());
        }
      }
    }
    tagList.forEach(tags::add);

    StringBuilder b = new StringBuilder();
    try {
      b.append("---\n").append(YAML.writeValueAsString(front)).append("---\n\n");
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    int original = spec.getModel().getOriginalContextLength();
    int target = spec.getTargetContextLength();
    b.append("# ").append(name).append("\n\n");
    int window = spec.getPose().getTrainingWindow();
    String how = switch (spec.getPose().getMethod()) {
      case POSE -> String.format(Locale.ROOT, "by PoSE (Positional Skip-wisE training, [arXiv 2309.10400]("
          + "https://arxiv.org/abs/2309.10400)): fine-tuned on samples of %,d tokens whose position ids were split into "
          + "chunks with random skips, so that it saw every relative distance of the %,d-token window", window, target);
      case RANDPOS -> String.format(Locale.ROOT, "by RandPos (the baseline of [arXiv 2309.10400]("
          + "https://arxiv.org/abs/2309.10400)): fine-tuned on samples of %,d tokens whose position ids were drawn at "
          + "random, in order, from the %,d-token window", window, target);
      case FULL -> String.format(Locale.ROOT, "by full-length fine-tuning: fine-tuned on samples of up to %,d tokens "
          + "with their own positions", target);
    };
    b.append(String.format(Locale.ROOT, "`%s` with its context window extended from %,d to %,d tokens %s. The "
        + "config.json carries the new RoPE scaling (%s), which transformers and vLLM apply as they load the model."
        + "%n%n", source, original, target, how, spec.getRopeScaling().getType().wireName()));
    b.append("## Training\n\n| setting | value |\n|---|---|\n");
    PoseSettings p = spec.getPose();
    TrainingSettings t = spec.getTraining();
    row(b, "base model", "`" + source + "`" + (baseRevision == null ? "" : " at revision `" + baseRevision + "`"));
    row(b, "context length", String.format(Locale.ROOT, "%,d -> %,d tokens", original, target));
    row(b, "RoPE scaling", spec.getRopeScaling().getType().wireName()
        + (spec.getRopeScaling().getFactor() == null ? "" : " x" + trimmed(spec.getRopeScaling().getFactor())));
    row(b, "position sampling", p.getMethod().wireName() + (p.getMethod() == PoseSettings.Method.FULL
        ? ", samples of up to " + target + " tokens" : ", window " + p.getTrainingWindow())
        + (p.getChunks() == null ? "" : ", " + p.getChunks() + " chunks")
        + ", seed " + p.getSeed());
    if (t != null) {
      row(b, "data", "`" + t.getData().getSource() + "`");
      row(b, "steps", t.getSteps() + " x global batch " + t.getGlobalBatchSize());
      row(b, "learning rate", trimmed(t.getLearningRate()) + " (" + t.getLrSchedule().wireName() + ", "
          + t.getWarmupSteps() + " warmup steps)");
      row(b, "precision", t.getPrecision().wireName());
    }
    b.append("\nThe full configuration is in `").append(io.pose.trainer.stage.PublishStage.CONFIG_FILE).append("`.\n\n");
    if (evaluationMarkdown != null) {
      // links relative to eval/results.md point into eval/ from the card
      String tables = evaluationMarkdown.replaceFirst("(?m)^## Evaluation.*\\n\\n", "")
          .replaceAll("\\]\\((?![a-z]+:|/|eval/)([^)\\s]+)\\)", "](eval/$1)");
      b.append("## Evaluation\n\n").append(tables.strip()).append("\n\n");
      for (String plot : plots) {
        b.append("![").append(plot).append("](").append(plot).append(")\n");
      }
      if (!plots.isEmpty()) {
        b.append('\n');
      }
    }
    b.append("## Usage\n\n```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n")
        .append("tokenizer = AutoTokenizer.from_pretrained(\"<this repository>\")\n")
        .append("model = AutoModelForCausalLM.from_pretrained(\"<this repository>\", torch_dtype=\"auto\")\n```\n\n");
    b.append("## Citation\n\n```bibtex\n@inproceedings{zhu2024pose,\n"
        + "  title={PoSE: Efficient Context Window Extension of LLMs via Positional Skip-wise Training},\n"
        + "  author={Zhu, Dawei and Yang, Nan and Wang, Liang and Song, Yifan and Wu, Wenhao and Wei, Furu and Li, Sujian},\n"
        + "  booktitle={The Twelfth International Conference on Learning Representations},\n  year={2024}\n}\n```\n");
    return b.toString();
  }

  /** The YAML front matter of a model card, or an empty object (no card, no front matter, or front matter that is not YAML). */
  static JsonNode frontMatter(String card) {
    if (card == null) {
      return JsonNodeFactory.instance.objectNode();
    }
    String text = card.replace("\r\n", "\n");
    if (!text.startsWith("---\n")) {
      return JsonNodeFactory.instance.objectNode();
    }
    int end = text.indexOf("\n---", 4);
    if (end < 0) {
      return JsonNodeFactory.instance.objectNode();
    }
    try {
      JsonNode node = YAML.readTree(text.substring(4, end + 1));
      return node != null && node.isObject() ? node : JsonNodeFactory.instance.objectNode();
    } catch (IOException e) {
      return JsonNodeFactory.instance.objectNode();
    }
  }

  /** The base model's card from its directory, or null. */
  public static String readBaseCard(Path baseModel) throws IOException {
    Path card = baseModel.resolve("README.md");
    return Files.isRegularFile(card) ? Files.readString(card, StandardCharsets.UTF_8) : null;
  }

  private static void row(StringBuilder b, String key, String value) {
    b.append("| ").append(key).append(" | ").append(value.replace("|", "\\|")).append(" |\n");
  }

  private static String trimmed(double v) {
    return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
  }
}
