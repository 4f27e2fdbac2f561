package io.pose.api;

import io.pose.api.v1alpha1.BenchmarkTask;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.DataSource;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * On a workstation a spec may name files next to it: a {@code file:} URI with a relative path
 * ({@code file:tiny/base-model}) is resolved against the spec file's directory into an absolute {@code file:///}
 * URI before anything else reads the spec, so examples work from any clone. In a cluster there is no spec file:
 * the CRD accepts only absolute {@code file:///} URIs, and this rewriting never happens there.
 */
public final class LocalPaths {
  private LocalPaths() {}

  private static final Pattern RELATIVE = Pattern.compile("file:(?!/)(\\S+)");

  /** Rewrites the relative file: URIs of every source and the publish target in place. */
  public static void resolve(ContextExtension resource, Path specFile) {
    ContextExtensionSpec spec = resource.getSpec();
    if (spec == null) {
      return;
    }
    Path dir = specFile.toAbsolutePath().getParent();
    if (spec.getModel() != null) {
      rewrite(spec.getModel()::getSource, spec.getModel()::setSource, dir);
    }
    if (spec.getTraining() != null) {
      data(spec.getTraining().getData(), dir);
    }
    if (spec.getEvaluation() != null) {
      if (spec.getEvaluation().getPerplexity() != null) {
        data(spec.getEvaluation().getPerplexity().getData(), dir);
      }
      if (spec.getEvaluation().getBenchmarks() != null) {
        for (BenchmarkTask task : spec.getEvaluation().getBenchmarks()) {
          data(task.getData(), dir);
        }
      }
    }
    if (spec.getPublish() != null) {
      rewrite(spec.getPublish()::getTarget, spec.getPublish()::setTarget, dir);
    }
  }

  private static void data(DataSource data, Path dir) {
    if (data != null) {
      rewrite(data::getSource, data::setSource, dir);
    }
  }

  private static void rewrite(Supplier<String> get, Consumer<String> set, Path dir) {
    String value = get.get();
    if (value == null) {
      return;
    }
    Matcher m = RELATIVE.matcher(value);
    if (m.matches()) {
      set.accept("file://" + dir.resolve(m.group(1)).normalize());
    }
  }
}
