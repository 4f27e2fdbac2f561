package io.pose.trainer.data;

import io.pose.core.sampling.PositionSampler;
import io.pose.core.sampling.Sample;
import java.io.IOException;
import java.util.SplittableRandom;

/**
 * The run's samples, addressed by their global index: sample s is drawn from the document at position s mod n of
 * epoch s div n's shuffled order of the eligible documents (those of at least minTokens tokens), with the PoSE
 * positions the sampler draws for index s. Everything is a function of (seed, s), so the loader's whole state is
 * the index of the next sample, and a resumed run reads exactly what an uninterrupted one would.
 */
public final class SampleStream {

  private final Documents documents;
  private final PositionSampler sampler;
  private final long orderSeed;
  private final long positionSeed;
  private final int[] eligible;
  private long cachedEpoch = -1;
  private int[] order;

  public SampleStream(Documents documents, PositionSampler sampler, long seed, int minTokens) throws IOException {
    this(documents, sampler, seed, seed, minTokens);
  }

  /**
   * @param orderSeed shuffles the documents (spec.training.seed)
   * @param positionSeed draws the PoSE positions (spec.pose.seed)
   */
  public SampleStream(Documents documents, PositionSampler sampler, long orderSeed, long positionSeed, int minTokens)
      throws IOException {
    this.documents = documents;
    this.sampler = sampler;
    this.orderSeed = orderSeed;
    this.positionSeed = positionSeed;
    if (documents.size() == 0) {
      throw new DataException(documents.describe() + ": the source holds no documents");
    }
    int count = 0;
    int[] keep = new int[documents.size()];
    for (int i = 0; i < documents.size(); i++) {
      if (documents.length(i) >= Math.max(1, minTokens)) {
        keep[count++] = i;
      }
    }
    if (count == 0) {
      throw new DataException(documents.describe() + ": none of the " + documents.size() + " documents has at least "
          + minTokens + " tokens (spec.training.data.minTokens)");
    }
    this.eligible = java.util.Arrays.copyOf(keep, count);
  }

  /** How many documents are used (at least minTokens tokens). */
  public int eligibleDocuments() {
    return eligible.length;
  }

  /** The document index sample s is drawn from. */
  public synchronized int documentOf(long sampleIndex) {
    long epoch = sampleIndex / eligible.length;
    if (epoch != cachedEpoch) {
      order = eligible.clone();
      SplittableRandom r = new SplittableRandom(orderSeed * 0x9E3779B97F4A7C15L + epoch);
      for (int i = order.length - 1; i > 0; i--) {
        int j = r.nextInt(i + 1);
        int t = order[i];
        order[i] = order[j];
        order[j] = t;
      }
      cachedEpoch = epoch;
    }
    return order[(int) (sampleIndex % eligible.length)];
  }

  public Sample sample(long sampleIndex) throws IOException {
    return sampler.sample(positionSeed, sampleIndex, documents.tokens(documentOf(sampleIndex)));
  }
}
