package io.pose.core.hf;

import io.pose.core.rope.RopeParameters;
import java.util.List;

/**
 * The parts of a Llama, Mistral or Qwen2-family config.json this project needs, with Hugging Face's names in
 * the comments.
 *
 * @param style how the file states its RoPE
 * @param modelType model_type (llama, mistral, qwen2)
 * @param architectures architectures
 * @param hiddenSize hidden_size
 * @param intermediateSize intermediate_size
 * @param numHiddenLayers num_hidden_layers
 * @param numAttentionHeads num_attention_heads
 * @param numKeyValueHeads num_key_value_heads (defaults to num_attention_heads)
 * @param headDim head_dim (defaults to hidden_size / num_attention_heads)
 * @param vocabSize vocab_size
 * @param maxPositionEmbeddings max_position_embeddings
 * @param rmsNormEps rms_norm_eps
 * @param tieWordEmbeddings tie_word_embeddings
 * @param slidingWindow the effective sliding window, or null when attention is full (Qwen2's
 *     use_sliding_window false counts as full)
 * @param bosTokenId bos_token_id
 * @param eosTokenIds eos_token_id (a number or a list)
 * @param dtype torch_dtype (v4) or dtype (v5)
 * @param rope the RoPE, resolved as transformers resolves it
 */
public record ModelConfig(ConfigStyle style, String modelType, List<String> architectures, int hiddenSize,
    int intermediateSize, int numHiddenLayers, int numAttentionHeads, int numKeyValueHeads, int headDim, int vocabSize,
    int maxPositionEmbeddings, double rmsNormEps, boolean tieWordEmbeddings, Integer slidingWindow, Integer bosTokenId,
    List<Integer> eosTokenIds, String dtype, RopeParameters rope) {

  /**
   * The context length the model was pretrained at: rope_scaling's original_max_position_embeddings where the
   * RoPE type has one, else max_position_embeddings. (Some configs overstate it: Mistral-7B-v0.1 says 32768 but
   * was trained at 8192; spec.model.originalContextLength overrides it.)
   */
  public int originalContextLength() {
    return rope.originalMaxPositionEmbeddings() != null ? rope.originalMaxPositionEmbeddings() : maxPositionEmbeddings;
  }
}
