package io.pose.core.hf;

import io.pose.core.hf.ConfigExtension.Plan;
import io.pose.core.hf.ConfigExtension.Scaling;
import java.util.List;

/**
 * The extensions written into reference/extended/ (regenerate with
 * {@code ./mvnw -pl pose-core test -Dtest=ConfigExtensionTest -Dpose.updateFixtures=true}, then run
 * tools/reference/extended_config_check.py so transformers re-reads them).
 */
final class ExtensionCases {
  private ExtensionCases() {}

  record Case(String name, String fixture, Plan plan) {}

  static List<Case> all() {
    return List.of(
        new Case("mistral-v0.1-32k-yarn", "mistral-7b-v0.1.json", Plan.of(8192, 32768, Scaling.YARN)),
        new Case("mistral-v0.1-32k-linear", "mistral-7b-v0.1.json", Plan.of(8192, 32768, Scaling.LINEAR)),
        new Case("mistral-v0.1-32k-ntk", "mistral-7b-v0.1.json", Plan.of(8192, 32768, Scaling.NTK)),
        new Case("mistral-v0.1-32k-dynamic", "mistral-7b-v0.1.json", Plan.of(8192, 32768, Scaling.DYNAMIC)),
        new Case("mistral-v0.1-32k-yarn-keep-window", "mistral-7b-v0.1.json",
            new Plan(8192, 32768, Scaling.YARN, null, null, null, null, null, null, null, true)),
        new Case("mistral-v0.1-v5-32k-yarn", "mistral-7b-v0.1-transformers-v5.json", Plan.of(8192, 32768, Scaling.YARN)),
        new Case("mistral-v0.1-v5-32k-ntk", "mistral-7b-v0.1-transformers-v5.json", Plan.of(8192, 32768, Scaling.NTK)),
        new Case("llama-2-16k-linear", "llama-2-7b-hf.json", Plan.of(4096, 16384, Scaling.LINEAR)),
        new Case("llama-2-16k-yarn-options", "llama-2-7b-hf.json",
            new Plan(4096, 16384, Scaling.YARN, 5.0, 16.0, 2.0, null, null, null, false, false)),
        new Case("llama-2-16k-ntk", "llama-2-7b-hf.json", Plan.of(4096, 16384, Scaling.NTK)),
        new Case("mistral-v0.2-64k-yarn", "mistral-7b-instruct-v0.2.json", Plan.of(32768, 65536, Scaling.YARN)),
        new Case("qwen2-256k-yarn", "qwen2-7b.json", Plan.of(131072, 262144, Scaling.YARN)),
        new Case("yarn-mistral-128k-yarn", "yarn-mistral-7b-64k.json", Plan.of(65536, 131072, Scaling.YARN)));
  }
}
