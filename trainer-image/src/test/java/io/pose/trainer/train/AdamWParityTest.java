package io.pose.trainer.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.data.Offset.offset;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.pose.api.v1alpha1.TrainingSettings.LrSchedule;
import io.pose.core.hf.HfConfigs;
import io.pose.core.hf.ModelConfig;
import io.pose.trainer.io.Checkpoint;
import io.pose.trainer.kernels.Autograd;
import io.pose.trainer.kernels.Ops;
import io.pose.trainer.model.Decoder;
import io.pose.trainer.model.DecoderWeights;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * Seven training steps of the tiny Llama (PoSE positions, warmup, clipping active, weight decay) give the losses,
 * gradient norms, weights and Adam moments of torch.optim.AdamW + clip_grad_norm_ (tools/reference/train_steps.py).
 */
class AdamWParityTest {

  @Test
  void stepsMatchTorch() throws Exception {
    Path dir = Path.of("src/test/resources/tiny-models/llama");
    JsonNode ref = new ObjectMapper().readTree(dir.resolve("train_steps.json").toFile());
    ModelConfig config = HfConfigs.read(dir.resolve("config.json"));
    try (NDManager m = NDManager.newBaseManager(); Checkpoint checkpoint = Checkpoint.open(dir)) {
      DecoderWeights weights = DecoderWeights.load(config, checkpoint, m);
      weights.all().values().forEach(w -> w.setRequiresGradient(true));
      Decoder decoder = new Decoder(config, weights);
      AdamW adam = new AdamW(ref.get("betas").get(0).asDouble(), ref.get("betas").get(1).asDouble(),
          ref.get("eps").asDouble(), ref.get("weightDecay").asDouble());
      LearningRateSchedule schedule = new LearningRateSchedule(ref.get("lr").asDouble(), ref.get("warmupSteps").asInt(),
          ref.get("steps").size(), LrSchedule.CONSTANT);
      JsonNode batches = ref.get("batches");
      for (int step = 0; step < ref.get("steps").size(); step++) {
        JsonNode batch = batches.get(step % batches.size());
        long[] ids = new long[16];
        int[][] positions = new int[2][8];
        for (int b = 0; b < 2; b++) {
          for (int t = 0; t < 8; t++) {
            ids[b * 8 + t] = batch.get(0).get(b).get(t).asLong();
            positions[b][t] = batch.get(1).get(b).get(t).asInt();
          }
        }
        weights.all().values().forEach(Autograd::zeroGrad);
        float loss;
        try (NDManager stepManager = m.newSubManager()) {
          NDArray idArray = stepManager.create(ids, new Shape(2, 8));
          try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray l = Ops.causalLmLossFused(decoder.forward(idArray, positions), idArray);
            gc.backward(l);
            loss = l.getFloat();
          }
        }
        double norm = GradientClipping.clip(weights.all().values(), ref.get("maxGradNorm").asDouble());
        adam.step(weights.all(), schedule.at(step));
        JsonNode expected = ref.get("steps").get(step);
        assertThat((double) loss).as("loss at step %d", step).isCloseTo(expected.get("loss").asDouble(), offset(2e-4));
        assertThat(norm).as("gradient norm at step %d", step).isCloseTo(expected.get("gradNorm").asDouble(),
            offset(2e-4 * expected.get("gradNorm").asDouble()));
        assertThat(schedule.at(step)).isCloseTo(expected.get("lr").asDouble(), offset(1e-12));
      }
      var watched = ref.get("watched").fields();
      while (watched.hasNext()) {
        var e = watched.next();
        String name = e.getKey();
        io.pose.trainer.Tolerances.assertClose(name + " after training", weights.get(name).toFloatArray(),
            e.getValue().get("value"), 2e-4);
        io.pose.trainer.Tolerances.assertClose(name + " exp_avg", adam.expAvg().get(name).toFloatArray(),
            e.getValue().get("expAvg"), 2e-3);
        io.pose.trainer.Tolerances.assertClose(name + " exp_avg_sq", adam.expAvgSq().get(name).toFloatArray(),
            e.getValue().get("expAvgSq"), 2e-3);
      }
    }
  }
}
