package io.pose.operator.model;

import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionSpec;
import io.pose.api.v1alpha1.DataSource;
import io.pose.api.v1alpha1.SpecDefaults;
import io.pose.api.v1alpha1.Stage;
import io.pose.operator.config.OperatorSettings;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A ContextExtension with every default applied (including, once the Fetch stage reported it, the
 * model's original context length) and the operator settings: the one input of every builder.
 *
 * @param resource the resource as the API server has it
 * @param spec the spec with defaults applied
 * @param settings the operator's configuration
 */
public record Resolved(ContextExtension resource, ContextExtensionSpec spec, OperatorSettings settings) {

  /** Resolves with the original context length recorded in status (reported by the Fetch stage), if any. */
  public static Resolved of(ContextExtension resource, OperatorSettings settings) {
    Integer fromModel = resource.getStatus() != null && resource.getStatus().getModel() != null
        ? resource.getStatus().getModel().getOriginalContextLength() : null;
    return of(resource, settings, fromModel);
  }

  /**
   * @param modelOriginalContextLength the original length read from the model's config.json, or null
   */
  public static Resolved of(ContextExtension resource, OperatorSettings settings, Integer modelOriginalContextLength) {
    // a resource without spec is invalid (validation says so); resolve an empty one so nothing downstream fails
    var spec = resource.getSpec() != null ? resource.getSpec() : new io.pose.api.v1alpha1.ContextExtensionSpec();
    return new Resolved(resource, SpecDefaults.apply(spec, modelOriginalContextLength), settings);
  }

  public String name() {
    return resource.getMetadata().getName();
  }

  public String namespace() {
    return resource.getMetadata().getNamespace();
  }

  /** The stages this resource runs: Evaluate only with an evaluation, Publish only with a target. */
  public List<Stage> activeStages() {
    return java.util.Arrays.stream(Stage.values()).filter(this::isActive).toList();
  }

  public boolean isActive(Stage stage) {
    return switch (stage) {
      case FETCH, TRAIN -> true;
      case EVALUATE -> spec.getEvaluation() != null && spec.getEvaluation().hasAny();
      case PUBLISH -> spec.getPublish() != null;
    };
  }

  public boolean kueue() {
    return spec.getScheduling() != null && spec.getScheduling().getQueueName() != null;
  }

  public boolean volcano() {
    return spec.getScheduling() != null && spec.getScheduling().getVolcano() != null;
  }

  public String image() {
    return spec.getImage() != null && spec.getImage().getName() != null ? spec.getImage().getName() : settings.trainerImage();
  }

  /** The workspace claim's name: the existing claim, or the one the operator creates. */
  public String workspaceClaimName() {
    String existing = spec.getStorage().getWorkspace().getExistingClaim();
    return existing != null ? existing : Names.workspaceClaim(resource);
  }

  public boolean createsWorkspaceClaim() {
    return spec.getStorage().getWorkspace().getExistingClaim() == null;
  }

  /**
   * The Secrets a stage mounts, each with the spec field that names it (for error messages). Credentials
   * go only where they are used: source credentials into Fetch, publish credentials into Publish.
   */
  public List<SecretRef> secrets(Stage stage) {
    Set<SecretRef> refs = new LinkedHashSet<>();
    switch (stage) {
      case FETCH -> {
        add(refs, "spec.model.credentialsSecret", spec.getModel().getCredentialsSecret());
        add(refs, "spec.training.data.credentialsSecret", spec.getTraining().getData().getCredentialsSecret());
        if (spec.getEvaluation() != null) {
          if (spec.getEvaluation().getPerplexity() != null) {
            add(refs, "spec.evaluation.perplexity.data.credentialsSecret",
                secretOf(spec.getEvaluation().getPerplexity().getData()));
          }
          if (spec.getEvaluation().getBenchmarks() != null) {
            for (int i = 0; i < spec.getEvaluation().getBenchmarks().size(); i++) {
              add(refs, "spec.evaluation.benchmarks[" + i + "].data.credentialsSecret",
                  secretOf(spec.getEvaluation().getBenchmarks().get(i).getData()));
            }
          }
        }
      }
      case PUBLISH -> add(refs, "spec.publish.credentialsSecret", spec.getPublish().getCredentialsSecret());
      default -> { }
    }
    // one mount per Secret, even when several fields name it
    Set<String> seen = new LinkedHashSet<>();
    return refs.stream().filter(r -> seen.add(r.secretName())).toList();
  }

  /**
   * The PersistentVolumeClaims other than the workspace that a stage's pvc:// URIs name: Fetch reads sources from
   * them, Publish writes its target into one. Each is mounted at {@code TrainerContract.PVC_DIR/<claim>}.
   */
  public List<String> claims(Stage stage) {
    Set<String> claims = new LinkedHashSet<>();
    switch (stage) {
      case FETCH -> {
        claim(claims, spec.getModel().getSource());
        claim(claims, spec.getTraining().getData().getSource());
        if (spec.getEvaluation() != null) {
          if (spec.getEvaluation().getPerplexity() != null && spec.getEvaluation().getPerplexity().getData() != null) {
            claim(claims, spec.getEvaluation().getPerplexity().getData().getSource());
          }
          if (spec.getEvaluation().getBenchmarks() != null) {
            spec.getEvaluation().getBenchmarks().forEach(b -> claim(claims, b.getData() == null ? null
                : b.getData().getSource()));
          }
        }
      }
      case PUBLISH -> claim(claims, spec.getPublish().getTarget());
      default -> { }
    }
    claims.remove(workspaceClaimName());
    return List.copyOf(claims);
  }

  private static void claim(Set<String> claims, String uri) {
    if (uri != null && uri.startsWith("pvc://")) {
      String rest = uri.substring("pvc://".length());
      int slash = rest.indexOf('/');
      claims.add(slash < 0 ? rest : rest.substring(0, slash));
    }
  }

  private static String secretOf(DataSource d) {
    return d == null ? null : d.getCredentialsSecret();
  }

  private static void add(Set<SecretRef> refs, String field, String secret) {
    if (secret != null) {
      refs.add(new SecretRef(field, secret));
    }
  }

  /** A Secret named by a spec field. */
  public record SecretRef(String field, String secretName) {
    public SecretRef {
      Objects.requireNonNull(field);
      Objects.requireNonNull(secretName);
    }
  }
}
