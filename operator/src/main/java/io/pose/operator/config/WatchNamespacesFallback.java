package io.pose.operator.config;

import io.pose.operator.reconciler.ContextExtensionReconciler;
import io.smallrye.config.FallbackConfigSourceInterceptor;

/**
 * Lets {@code pose.operator.watch-namespaces} (env {@code POSE_OPERATOR_WATCH_NAMESPACES}) set the namespaces
 * the controller watches: when QOSDK's own key is not set, its value is read from ours, at run time. (A
 * property expression in application.properties is not enough: it is resolved when the application is built.)
 */
public class WatchNamespacesFallback extends FallbackConfigSourceInterceptor {

  static final String QOSDK_KEY = "quarkus.operator-sdk.controllers." + ContextExtensionReconciler.NAME + ".namespaces";
  static final String POSE_KEY = "pose.operator.watch-namespaces";

  public WatchNamespacesFallback() {
    super(name -> QOSDK_KEY.equals(name) ? POSE_KEY : name);
  }
}
