package io.pose.api.v1alpha1;

import java.util.Locale;

/** The pipeline's stages, in order. Each runs as one Kubernetes Job and one trainer CLI command. */
public enum Stage {
  FETCH("fetch", "Fetch", Phase.Fetching),
  TRAIN("train", "Train", Phase.Training),
  EVALUATE("eval", "Evaluate", Phase.Evaluating),
  PUBLISH("publish", "Publish", Phase.Publishing);

  private final String command;
  private final String title;
  private final Phase phase;

  Stage(String command, String title, Phase phase) {
    this.command = command;
    this.title = title;
    this.phase = phase;
  }

  /** The trainer subcommand that runs this stage ({@code pose <command>}), also the Job name suffix. */
  public String command() { return command; }

  /** CamelCase name used in condition reasons and events ("TrainFailed"). */
  public String title() { return title; }

  /** The resource phase while this stage runs. */
  public Phase phase() { return phase; }

  public String key() { return name().toLowerCase(Locale.ROOT); }
}
