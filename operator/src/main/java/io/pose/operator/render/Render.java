package io.pose.operator.render;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.pose.api.SpecIO;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.validation.SpecValidationException;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.operator.build.StageJobs;
import io.pose.operator.build.SupportingObjects;
import io.pose.operator.config.OperatorSettings;
import io.pose.operator.model.Resolved;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Prints, offline, every Kubernetes object the operator creates for a ContextExtension over its whole run
 * (what {@code helm template} is to a chart): validation and defaults included, no cluster needed. Without
 * a file it renders the embedded examples/mistral-32k.yaml.
 *
 * <pre>render [FILE] [--original-context-length N] [--trainer-image IMAGE]</pre>
 */
public final class Render {
  private Render() {}

  static final String DEFAULT_EXAMPLE = "examples/mistral-32k.yaml";

  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    String file = null;
    Integer original = null;
    OperatorSettings settings = OperatorSettings.defaults();
    try {
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--original-context-length" -> original = Integer.parseInt(args[++i]);
          case "--trainer-image" -> settings = new OperatorSettings(args[++i], settings.resyncPeriod(),
              settings.missingInputRetry());
          case "-h", "--help" -> {
            out.println("usage: render [FILE] [--original-context-length N] [--trainer-image IMAGE]");
            return 0;
          }
          default -> {
            if (args[i].startsWith("-") || file != null) {
              err.println("render: unexpected argument " + args[i]);
              return 2;
            }
            file = args[i];
          }
        }
      }
    } catch (RuntimeException e) {
      err.println("render: " + args[args.length - 1] + ": expected a value");
      return 2;
    }
    try {
      ContextExtension cx = file == null ? embedded() : SpecIO.read(Path.of(file));
      List<Violation> violations = SpecValidator.validate(cx);
      if (violations.isEmpty() && original != null) {
        violations = SpecValidator.validateWithModel(cx.getSpec(), original);
      }
      if (!violations.isEmpty()) {
        throw new SpecValidationException(violations);
      }
      if (cx.getMetadata().getNamespace() == null) {
        cx.getMetadata().setNamespace("default");
      }
      out.print(render(Resolved.of(cx, settings, original)));
      return 0;
    } catch (SpecValidationException e) {
      err.println((file == null ? DEFAULT_EXAMPLE : file) + " is not a valid ContextExtension:");
      e.violations().forEach(v -> err.println("  " + v));
      return 2;
    } catch (IOException e) {
      // a spec that cannot be read is an invalid configuration, as for every pose command (exit 2)
      err.println("render: " + e.getMessage());
      return 2;
    }
  }

  /** The objects of the whole run, in the order the operator creates them, as multi-document YAML. */
  static String render(Resolved r) {
    List<HasMetadata> objects = new ArrayList<>();
    objects.add(SupportingObjects.config(r));
    objects.add(SupportingObjects.progress(r));
    objects.add(SupportingObjects.serviceAccount(r));
    objects.add(SupportingObjects.role(r));
    objects.add(SupportingObjects.roleBinding(r));
    objects.add(SupportingObjects.rendezvousService(r));
    if (r.createsWorkspaceClaim()) {
      objects.add(SupportingObjects.workspaceClaim(r));
    }
    if (r.volcano()) {
      objects.add(SupportingObjects.podGroup(r));
    }
    StringBuilder yaml = new StringBuilder();
    for (HasMetadata o : objects) {
      yaml.append("---\n").append(strip(Serialization.asYaml(o)));
    }
    Stage previous = null;
    for (Stage stage : r.activeStages()) {
      yaml.append("---\n# Stage ").append(stage.title())
          .append(previous == null ? ": created first" : ": created when " + previous.title() + " succeeds").append('\n')
          .append(strip(Serialization.asYaml(StageJobs.build(r, stage))));
      previous = stage;
    }
    return yaml.toString();
  }

  private static String strip(String yaml) {
    return yaml.startsWith("---\n") ? yaml.substring(4) : yaml;
  }

  private static ContextExtension embedded() throws IOException {
    try (InputStream in = Render.class.getClassLoader().getResourceAsStream(DEFAULT_EXAMPLE)) {
      if (in == null) {
        throw new IOException(DEFAULT_EXAMPLE + " is not on the classpath");
      }
      return SpecIO.parse(new String(in.readAllBytes(), StandardCharsets.UTF_8), DEFAULT_EXAMPLE);
    }
  }
}
