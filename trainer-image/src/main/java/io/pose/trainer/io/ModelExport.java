package io.pose.trainer.io;

import ai.djl.ndarray.NDArray;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.pose.core.hf.ConfigExtension;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Writes an extended model as a Hugging Face model directory: config.json with the target length and the RoPE
 * scaling the model was trained with (pose-core's {@link ConfigExtension}), the weights in the base model's dtype
 * (safetensors, sharded like save_pretrained), and the base's tokenizer and generation files copied unchanged. The
 * whole directory appears at once ({@link AtomicDirectory}): a crash never leaves half a model.
 */
public final class ModelExport {
  private ModelExport() {}

  /** Files of a model directory that are copied from the base model as they are. */
  public static final List<String> COPIED_FILES = List.of("generation_config.json", "tokenizer.json",
      "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "added_tokens.json", "vocab.json",
      "merges.txt", "chat_template.jinja");

  private static final ObjectMapper JSON = new ObjectMapper();

  /**
   * @param baseDirectory the base model (its config.json and tokenizer files)
   * @param plan the extension (original and target lengths, scaling)
   * @param weights the trained fp32 weights by Hugging Face name, in parameter order
   * @param target the directory to write
   */
  public static void write(Path baseDirectory, ConfigExtension.Plan plan, Map<String, NDArray> weights, Path target,
      long maxShardBytes) throws IOException {
    Path baseConfig = baseDirectory.resolve("config.json");
    ObjectNode original = (ObjectNode) JSON.readTree(Files.readString(baseConfig));
    String extended = ConfigExtension.extend(Files.readString(baseConfig), plan, baseConfig.toString());
    DType dtype = dtypeOf(original);
    List<TensorData> tensors = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : weights.entrySet()) {
      long[] shape = e.getValue().getShape().getShape();
      float[] values = e.getValue().toFloatArray();
      tensors.add(switch (dtype) {
        case BF16 -> TensorData.bf16(e.getKey(), shape, values);
        case F16 -> TensorData.f16(e.getKey(), shape, values);
        default -> TensorData.f32(e.getKey(), shape, values);
      });
    }
    AtomicDirectory.write(target, dir -> {
      Files.writeString(dir.resolve("config.json"), extended);
      CheckpointWriter.write(dir, tensors, maxShardBytes, Map.of("format", "pt"));
      for (String name : COPIED_FILES) {
        Path source = baseDirectory.resolve(name);
        if (Files.exists(source)) {
          Files.copy(source, dir.resolve(name), StandardCopyOption.COPY_ATTRIBUTES);
        }
      }
    });
  }

  /** The dtype the base model ships in (torch_dtype in transformers v4 files, dtype in v5); fp32 when unsaid. */
  static DType dtypeOf(ObjectNode config) {
    String name = config.has("torch_dtype") && !config.get("torch_dtype").isNull() ? config.get("torch_dtype").asText()
        : config.path("dtype").asText("float32");
    return switch (name) {
      case "bfloat16" -> DType.BF16;
      case "float16" -> DType.F16;
      case "float32" -> DType.F32;
      default -> throw new CheckpointException("config.json: dtype \"" + name + "\" is not one of bfloat16, float16, float32");
    };
  }
}
