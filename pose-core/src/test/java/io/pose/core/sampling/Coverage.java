package io.pose.core.sampling;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/** Which relative distances a sample's positions cover, computed from the runs of consecutive positions. */
final class Coverage {
  private Coverage() {}

  /** Adds 1 to counts[d] for every distance d the sample covers (each once). */
  static void add(int[] positions, long[] counts) {
    List<int[]> runs = new ArrayList<>(); // [first, last]
    for (int i = 0; i < positions.length; i++) {
      if (!runs.isEmpty() && runs.get(runs.size() - 1)[1] + 1 == positions[i]) {
        runs.get(runs.size() - 1)[1] = positions[i];
      } else {
        runs.add(new int[] {positions[i], positions[i]});
      }
    }
    List<int[]> spans = new ArrayList<>();
    for (int a = 0; a < runs.size(); a++) {
      int[] ra = runs.get(a);
      spans.add(new int[] {1, ra[1] - ra[0]});
      for (int b = a + 1; b < runs.size(); b++) {
        int[] rb = runs.get(b);
        spans.add(new int[] {rb[0] - ra[1], rb[1] - ra[0]});
      }
    }
    spans.sort(Comparator.comparingInt(s -> s[0]));
    int lo = -1;
    int hi = -2;
    for (int[] s : spans) {
      if (s[0] > s[1]) {
        continue;
      }
      if (s[0] > hi + 1) {
        mark(counts, lo, hi);
        lo = s[0];
        hi = s[1];
      } else {
        hi = Math.max(hi, s[1]);
      }
    }
    mark(counts, lo, hi);
  }

  private static void mark(long[] counts, int lo, int hi) {
    for (int d = Math.max(lo, 1); d <= hi && d < counts.length; d++) {
      counts[d]++;
    }
  }
}
