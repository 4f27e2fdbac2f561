package io.pose.operator.status;

/** Something that stops the pipeline: a CamelCase reason and a message naming the field and the rule. */
public record Problem(String reason, String message) {}
