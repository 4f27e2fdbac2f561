package io.pose.operator.reconciler;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.javaoperatorsdk.operator.api.config.informer.InformerEventSourceConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.Context;
import io.javaoperatorsdk.operator.api.reconciler.ControllerConfiguration;
import io.javaoperatorsdk.operator.api.reconciler.ErrorStatusUpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.EventSourceContext;
import io.javaoperatorsdk.operator.api.reconciler.Reconciler;
import io.javaoperatorsdk.operator.api.reconciler.UpdateControl;
import io.javaoperatorsdk.operator.api.reconciler.Workflow;
import io.javaoperatorsdk.operator.api.reconciler.dependent.Dependent;
import io.javaoperatorsdk.operator.processing.dependent.workflow.CRDPresentActivationCondition;
import io.javaoperatorsdk.operator.processing.event.source.EventSource;
import io.javaoperatorsdk.operator.processing.event.source.informer.InformerEventSource;
import io.pose.api.SpecIO;
import io.pose.api.progress.EvaluationResults;
import io.pose.api.v1alpha1.ContextExtension;
import io.pose.api.v1alpha1.ContextExtensionStatus;
import io.pose.api.v1alpha1.Phase;
import io.pose.api.v1alpha1.Stage;
import io.pose.api.v1alpha1.StageState;
import io.pose.api.validation.Rules;
import io.pose.api.validation.SpecValidator;
import io.pose.api.validation.Violation;
import io.pose.operator.config.OperatorConfig;
import io.pose.operator.config.OperatorSettings;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.inject.Inject;
import io.pose.operator.dependent.ReconcilePlan;
import io.pose.operator.dependent.StageJobDependents;
import io.pose.operator.dependent.SupportingDependents;
import io.pose.operator.dependent.Suspension;
import io.pose.operator.events.EventRecorder;
import io.pose.operator.metrics.PoseMetrics;
import io.pose.operator.model.Labels;
import io.pose.operator.model.Names;
import io.pose.operator.model.Resolved;
import io.pose.operator.observe.FailureDetails;
import io.pose.operator.observe.ProgressSnapshot;
import io.pose.operator.status.Assessment;
import io.pose.operator.status.Conditions;
import io.pose.operator.status.Problem;
import io.pose.operator.status.StatusAssembler;
import io.pose.operator.status.Verdict;
import io.quarkiverse.operatorsdk.annotations.RBACRule;
import java.time.Clock;
import java.time.temporal.ChronoUnit;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reconciles a ContextExtension into its stage Jobs and supporting objects: observe (Jobs, progress
 * reports) -> validate (spec, fetched model, immutable fields, quality gate, Secrets) -> reconcile the
 * workflow of dependents -> write status, events and metrics. All state lives in the API server, so a
 * restarted operator picks up exactly where it was.
 */
@ControllerConfiguration(name = ContextExtensionReconciler.NAME, generationAwareEventProcessing = false,
    informer = @io.javaoperatorsdk.operator.api.config.informer.Informer(onUpdateFilter = SpecOrRetryChanged.class))
@Workflow(explicitInvocation = true, dependents = {
    @Dependent(name = "config", type = SupportingDependents.TrainerConfig.class,
        useEventSourceWithName = ContextExtensionReconciler.CONFIG_MAPS),
    @Dependent(name = "progress", type = SupportingDependents.Progress.class,
        useEventSourceWithName = ContextExtensionReconciler.CONFIG_MAPS),
    @Dependent(name = "service-account", type = SupportingDependents.StageServiceAccount.class),
    @Dependent(name = "role", type = SupportingDependents.StageRole.class),
    @Dependent(name = "role-binding", type = SupportingDependents.StageRoleBinding.class,
        dependsOn = {"service-account", "role"}),
    @Dependent(name = "rendezvous", type = SupportingDependents.RendezvousService.class),
    @Dependent(name = "pod-group", type = SupportingDependents.TrainingPodGroup.class,
        activationCondition = CRDPresentActivationCondition.class,
        reconcilePrecondition = SupportingDependents.VolcanoRequested.class),
    @Dependent(name = "fetch", type = StageJobDependents.FetchJob.class,
        useEventSourceWithName = ContextExtensionReconciler.JOBS,
        reconcilePrecondition = StageJobDependents.StageReached.class,
        dependsOn = {"config", "progress", "role-binding"}),
    @Dependent(name = "train", type = StageJobDependents.TrainJob.class,
        useEventSourceWithName = ContextExtensionReconciler.JOBS,
        reconcilePrecondition = StageJobDependents.StageReached.class,
        dependsOn = {"config", "progress", "role-binding", "rendezvous"}),
    @Dependent(name = "evaluate", type = StageJobDependents.EvaluateJob.class,
        useEventSourceWithName = ContextExtensionReconciler.JOBS,
        reconcilePrecondition = StageJobDependents.StageReached.class,
        dependsOn = {"config", "progress", "role-binding"}),
    @Dependent(name = "publish", type = StageJobDependents.PublishJob.class,
        useEventSourceWithName = ContextExtensionReconciler.JOBS,
        reconcilePrecondition = StageJobDependents.StageReached.class,
        dependsOn = {"config", "progress", "role-binding"}),
})
@RBACRule(apiGroups = "", resources = "secrets", verbs = "get")
@RBACRule(apiGroups = "", resources = "persistentvolumeclaims", verbs = {"get", "create", "patch"})
@RBACRule(apiGroups = "", resources = "pods", verbs = {"get", "list"})
@RBACRule(apiGroups = "", resources = "events", verbs = {"create", "patch"})
@RBACRule(apiGroups = "events.k8s.io", resources = "events", verbs = {"create", "patch"})
@RBACRule(apiGroups = "apiextensions.k8s.io", resources = "customresourcedefinitions", verbs = {"get", "list"})
public class ContextExtensionReconciler implements Reconciler<ContextExtension> {
  private static final Logger LOG = LoggerFactory.getLogger(ContextExtensionReconciler.class);

  public static final String NAME = "contextextension";
  static final String JOBS = "jobs";
  static final String CONFIG_MAPS = "configmaps";
  private static final ObjectMapper JSON = new ObjectMapper();

  private final OperatorSettings settings;
  private final PoseMetrics metrics;
  private final Clock clock;
  private volatile ClusterLookups lookups;
  private volatile EventRecorder events;

  public ContextExtensionReconciler(OperatorSettings settings, PoseMetrics metrics, Clock clock) {
    this.settings = settings;
    this.metrics = metrics;
    this.clock = clock;
  }

  /** The operator application's constructor (Quarkus CDI). */
  @Inject
  public ContextExtensionReconciler(OperatorConfig config, MeterRegistry registry) {
    this(config.settings(), new PoseMetrics(registry), Clock.systemUTC());
  }

  @Override
  public List<EventSource<?, ContextExtension>> prepareEventSources(EventSourceContext<ContextExtension> context) {
    // One informer per type for the four Jobs and the two ConfigMaps, caching only what this operator made.
    var jobs = new InformerEventSource<>(InformerEventSourceConfiguration.from(Job.class, ContextExtension.class)
        .withName(JOBS).withLabelSelector(Labels.SELECTOR).withNamespacesInheritedFromController().build(), context);
    var configMaps = new InformerEventSource<>(InformerEventSourceConfiguration.from(ConfigMap.class, ContextExtension.class)
        .withName(CONFIG_MAPS).withLabelSelector(Labels.SELECTOR).withNamespacesInheritedFromController().build(), context);
    return List.of(jobs, configMaps);
  }

  @Override
  public UpdateControl<ContextExtension> reconcile(ContextExtension cx, Context<ContextExtension> context) {
    init(context);
    metrics.reconciliation();
    boolean hadStatus = cx.getStatus() != null;
    String now = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    ContextExtensionStatus previous = cx.getStatus() == null ? new ContextExtensionStatus() : copy(cx.getStatus());
    ContextExtensionStatus stored = copy(previous); // previous may be reset by a retry; a status write compares with this

    ProgressSnapshot reported = ProgressSnapshot.read(secondaryConfigMap(context, Names.progressConfigMap(cx)));
    reported.problems().forEach(p -> LOG.warn("{}/{}: unreadable progress report: {}", cx.getMetadata().getNamespace(),
        cx.getMetadata().getName(), p));
    Integer modelOriginal = reported.fetch().map(f -> f.getOriginalContextLength())
        .or(() -> Optional.ofNullable(previous.getModel()).map(m -> m.getOriginalContextLength())).orElse(null);
    Resolved r = Resolved.of(cx, settings, modelOriginal);
    Map<Stage, Job> observedJobs = stageJobs(cx, context, replacedJobs(previous));
    Assessment observed = Assessment.of(r, previous, observedJobs);
    List<StatusAssembler.Event> extraEvents = new java.util.ArrayList<>();
    // pose.io/retry: once per new value, a failed or finished run starts again from its failed stage (or Train)
    Retry.Outcome retry = Retry.requested(cx, previous)
        .map(token -> Retry.apply(context.getClient(), cx, previous, observed, observedJobs, token, hadStatus, now))
        .orElse(Retry.Outcome.NONE);
    retry.event().ifPresent(extraEvents::add);
    ProgressSnapshot progress = retry.from().map(reported::without).orElse(reported);
    Map<Stage, Job> jobs = retry.from().isPresent() ? stageJobs(cx, context, replacedJobs(previous)) : observedJobs;
    Assessment before = retry.from().isPresent() ? Assessment.of(r, previous, jobs) : observed;
    boolean started = before.stages().values().stream().anyMatch(s -> s.getJobName() != null);

    String fingerprint = cx.getSpec() == null ? null : SpecIO.fingerprint(cx.getSpec());
    String accepted = previous.getSpecFingerprint();
    Optional<Problem> invalid = validate(cx, r, modelOriginal, accepted, fingerprint);
    Map<Stage, Problem> failures = explainNewFailures(cx, previous, before);
    Optional<Problem> gate = invalid.isPresent() ? Optional.empty() : qualityGate(r, before, progress, previous);
    Optional<Problem> waiting = Optional.empty();
    if (invalid.isEmpty() && gate.isEmpty() && before.next().isPresent() && !r.spec().suspended()) {
      waiting = lookups.missingSecret(r.namespace(), r.secrets(before.next().get())).map(ref -> new Problem(
          "SecretNotFound", ref.field() + ": Secret \"" + ref.secretName() + "\" not found in namespace "
              + r.namespace() + " (" + before.next().get().title() + " waits for it)"));
    }
    if (invalid.isEmpty()) {
      WorkspaceClaims.Outcome claim = WorkspaceClaims.reconcile(context.getClient(), r, checkpoint(previous, progress, before));
      claim.event().ifPresent(extraEvents::add);
      if (waiting.isEmpty() && claim.problem().isPresent() && before.next().isPresent()) {
        waiting = claim.problem();
      }
    }
    Verdict verdict = new Verdict(invalid, gate, waiting, failures);

    Assessment after = before;
    if (invalid.isPresent()) {
      // nothing is created or updated from an invalid spec, but spec.suspend still reaches running Jobs
      jobs.values().forEach(job -> Suspension.apply(context.getClient(), job, r));
    } else {
      Set<Stage> wanted = EnumSet.noneOf(Stage.class);
      before.stages().forEach((stage, s) -> {
        if (jobs.containsKey(stage) || (s.getJobName() != null && !s.getState().terminal())) {
          wanted.add(stage);
        }
      });
      if (verdict.allowsNextStage() && !r.spec().suspended()) {
        before.next().ifPresent(wanted::add);
      }
      new ReconcilePlan(r, wanted).storeIn(context);
      context.managedWorkflowAndDependentResourceContext().reconcileManagedWorkflow();
      after = Assessment.of(r, previous, stageJobs(cx, context, replacedJobs(previous)));
      if (accepted == null && !wanted.isEmpty()) {
        accepted = fingerprint; // the run starts: from now on the immutable fields may not change
      }
    }
    if (!started && after.stages().values().stream().noneMatch(s -> s.getJobName() != null)) {
      accepted = null;
    }

    StatusAssembler.Result result = StatusAssembler.assemble(r, previous, after, progress, verdict, accepted, now);
    ContextExtensionStatus status = result.status();
    status.setRetry(Retry.pruned(previous.getRetry(), context.getSecondaryResources(Job.class)));
    countTransitions(previous, status);
    List<StatusAssembler.Event> all = new java.util.ArrayList<>(extraEvents);
    all.addAll(result.events());
    events.record(cx, all);
    cx.setStatus(status);
    metrics.record(cx);

    UpdateControl<ContextExtension> control = hadStatus && sameStatus(stored, status)
        ? UpdateControl.noUpdate() : UpdateControl.patchStatus(cx);
    if (status.getPhase() != Phase.Succeeded && status.getPhase() != Phase.Failed && status.getPhase() != Phase.Suspended) {
      control.rescheduleAfter(waiting.isPresent() ? settings.missingInputRetry() : settings.resyncPeriod());
    }
    return control;
  }

  @Override
  public ErrorStatusUpdateControl<ContextExtension> updateErrorStatus(ContextExtension cx, Context<ContextExtension> context,
      Exception e) {
    if (deletedMeanwhile(e)) {
      // the resource was deleted while it was being reconciled: its status write found nothing, and nothing is wrong
      LOG.debug("{}/{} was deleted during its reconciliation", cx.getMetadata().getNamespace(), cx.getMetadata().getName());
      return ErrorStatusUpdateControl.<ContextExtension>noStatusUpdate().withNoRetry();
    }
    // JOSDK retries with backoff; meanwhile the resource says what went wrong instead of looking idle
    LOG.error("reconciling {}/{} failed", cx.getMetadata().getNamespace(), cx.getMetadata().getName(), e);
    ContextExtensionStatus status = cx.getStatus() == null ? new ContextExtensionStatus() : cx.getStatus();
    String now = clock.instant().truncatedTo(ChronoUnit.SECONDS).toString();
    status.setConditions(Conditions.set(status.getConditions(), Conditions.RECONCILING, true, "ReconcileError",
        String.valueOf(e.getMessage()), cx.getMetadata().getGeneration(), now));
    cx.setStatus(status);
    return ErrorStatusUpdateControl.patchStatus(cx);
  }

  /** A 404 for the resource itself (its status write after it was deleted). */
  private static boolean deletedMeanwhile(Exception e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof io.fabric8.kubernetes.client.KubernetesClientException k && k.getCode() == 404
          && String.valueOf(k.getMessage()).contains("contextextensions")) {
        return true;
      }
    }
    return false;
  }

  private Optional<Problem> validate(ContextExtension cx, Resolved r, Integer modelOriginal, String accepted,
      String fingerprint) {
    List<Violation> violations = SpecValidator.validate(cx);
    if (!violations.isEmpty()) {
      return Optional.of(new Problem("InvalidSpec", join(violations)));
    }
    if (modelOriginal != null && cx.getSpec().getModel().getOriginalContextLength() == null) {
      List<Violation> withModel = SpecValidator.validateWithModel(cx.getSpec(), modelOriginal);
      if (!withModel.isEmpty()) {
        return Optional.of(new Problem("InvalidForModel", join(withModel)));
      }
    }
    if (accepted != null && !accepted.equals(fingerprint)) {
      List<String> changed = SpecIO.changedFields(accepted, fingerprint);
      return Optional.of(new Problem("ImmutableFieldChanged", String.join(", ", changed) + " " + Rules.IMMUTABLE_MESSAGE));
    }
    if (r.volcano() && !lookups.volcanoInstalled()) {
      return Optional.of(new Problem("VolcanoNotInstalled",
          "spec.scheduling.volcano: Volcano is not installed in this cluster (no CustomResourceDefinition "
              + "podgroups.scheduling.volcano.sh)"));
    }
    return Optional.empty();
  }

  /** Reads the pods of stages that failed since the last reconciliation, for their termination messages. */
  private Map<Stage, Problem> explainNewFailures(ContextExtension cx, ContextExtensionStatus previous, Assessment a) {
    Map<Stage, Problem> out = new EnumMap<>(Stage.class);
    a.stages().forEach((stage, s) -> {
      boolean wasFailed = previous.getStages() != null && previous.getStages().stateOf(stage) == StageState.Failed;
      if (s.getState() == StageState.Failed && !wasFailed && s.getJobName() != null) {
        FailureDetails.of(lookups.podsOf(cx.getMetadata().getNamespace(), s.getJobName())).ifPresent(f ->
            out.put(stage, new Problem(f.reason(), f.message())));
      }
    });
    return out;
  }

  /**
   * spec.publish.requirePasskeyAccuracy: before Publish starts, the measured accuracy at the target length
   * must reach the threshold. Nothing is published otherwise.
   */
  private static Optional<Problem> qualityGate(Resolved r, Assessment a, ProgressSnapshot progress,
      ContextExtensionStatus previous) {
    Double required = r.spec().getPublish() == null ? null : r.spec().getPublish().getRequirePasskeyAccuracy();
    if (required == null || a.next().orElse(null) != Stage.PUBLISH) {
      return Optional.empty();
    }
    int target = r.spec().getTargetContextLength();
    Optional<Double> measured = progress.evaluation().or(() -> Optional.ofNullable(previous.getEvaluation()))
        .flatMap((EvaluationResults e) -> e.passkeyAccuracyAt(target));
    if (measured.isEmpty()) {
      return Optional.of(new Problem("QualityGateFailed", "spec.publish.requirePasskeyAccuracy: the evaluation reported "
          + "no passkey accuracy at " + target + " tokens; nothing was published"));
    }
    if (measured.get() < required) {
      return Optional.of(new Problem("QualityGateFailed", String.format(java.util.Locale.ROOT,
          "spec.publish.requirePasskeyAccuracy: passkey accuracy at %d tokens is %.3f, below the required %.3f; "
              + "nothing was published", target, measured.get(), required)));
    }
    return Optional.empty();
  }

  private void countTransitions(ContextExtensionStatus previous, ContextExtensionStatus next) {
    for (Stage stage : Stage.values()) {
      StageState before = previous.getStages() == null ? StageState.Pending : previous.getStages().stateOf(stage);
      StageState after = next.getStages().stateOf(stage);
      if (before != after && after != StageState.Pending) {
        metrics.stageTransition(stage.command(), after.name());
      }
    }
  }

  /** The last complete checkpoint's step: reported now, or kept in status; the whole run when Train succeeded. */
  private static Integer checkpoint(ContextExtensionStatus previous, ProgressSnapshot progress, Assessment a) {
    Integer reported = progress.train().map(t -> t.getLastCheckpointStep())
        .or(() -> Optional.ofNullable(previous.getTraining()).map(t -> t.getLastCheckpointStep())).orElse(null);
    if (reported == null && a.state(Stage.TRAIN) == StageState.Succeeded) {
      return Optional.ofNullable(previous.getTraining()).map(t -> t.getStep()).orElse(1);
    }
    return reported;
  }

  private static Set<String> replacedJobs(ContextExtensionStatus status) {
    return status.getRetry() == null || status.getRetry().getReplacedJobs() == null ? Set.of()
        : Set.copyOf(status.getRetry().getReplacedJobs());
  }

  /** The stage Jobs in the cache, but those a retry replaced (still being deleted). */
  private static Map<Stage, Job> stageJobs(ContextExtension cx, Context<ContextExtension> context, Set<String> replaced) {
    Map<String, Job> byName = new HashMap<>();
    context.getSecondaryResources(Job.class).stream().filter(j -> !replaced.contains(j.getMetadata().getUid()))
        .forEach(j -> byName.put(j.getMetadata().getName(), j));
    Map<Stage, Job> jobs = new EnumMap<>(Stage.class);
    for (Stage stage : Stage.values()) {
      Job job = byName.get(Names.job(cx, stage));
      if (job != null) {
        jobs.put(stage, job);
      }
    }
    return jobs;
  }

  private static ConfigMap secondaryConfigMap(Context<ContextExtension> context, String name) {
    return context.getSecondaryResources(ConfigMap.class).stream().filter(c -> name.equals(c.getMetadata().getName()))
        .findFirst().orElse(null);
  }

  private static boolean sameStatus(ContextExtensionStatus previous, ContextExtensionStatus next) {
    return JSON.valueToTree(previous).equals(JSON.valueToTree(next));
  }

  private static ContextExtensionStatus copy(ContextExtensionStatus status) {
    return JSON.convertValue(status, ContextExtensionStatus.class);
  }

  private static String join(List<Violation> violations) {
    return violations.stream().map(Violation::toString).collect(Collectors.joining("; "));
  }

  private void init(Context<ContextExtension> context) {
    if (lookups == null) {
      synchronized (this) {
        if (lookups == null) {
          events = new EventRecorder(context.getClient());
          lookups = new ClusterLookups(context.getClient(), clock);
          var cache = context.getPrimaryCache();
          metrics.startPruning(() -> cache.list()
                  .map(p -> PoseMetrics.key(p.getMetadata().getNamespace(), p.getMetadata().getName()))
                  .collect(Collectors.toSet()),
              settings.resyncPeriod().compareTo(java.time.Duration.ofSeconds(30)) < 0 ? settings.resyncPeriod()
                  : java.time.Duration.ofSeconds(30));
        }
      }
    }
  }
}
