package io.pose.api.validation;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelOptions;
import dev.cel.common.types.SimpleType;
import dev.cel.compiler.CelCompiler;
import dev.cel.compiler.CelCompilerFactory;
import dev.cel.parser.CelStandardMacro;
import dev.cel.runtime.CelRuntime;
import dev.cel.runtime.CelRuntimeFactory;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** Evaluates Kubernetes CEL validation rules the way the API server does, over JSON-shaped values. */
final class CelEvaluator {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final CelOptions OPTIONS = CelOptions.current().enableHeterogeneousNumericComparisons(true).build();
  private static final CelCompiler COMPILER = CelCompilerFactory.standardCelCompilerBuilder()
      .setOptions(OPTIONS)
      .addVar("self", SimpleType.DYN)
      .addVar("oldSelf", SimpleType.DYN)
      .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
      .build();
  private static final CelRuntime RUNTIME = CelRuntimeFactory.standardCelRuntimeBuilder().setOptions(OPTIONS).build();
  private final Map<String, CelRuntime.Program> programs = new HashMap<>();

  /** Evaluates a rule with self (and oldSelf, for transition rules) bound to these objects. */
  boolean holds(String rule, Object self, Object oldSelf) {
    try {
      CelRuntime.Program program = programs.computeIfAbsent(rule, r -> {
        try {
          CelAbstractSyntaxTree ast = COMPILER.compile(r).getAst();
          return RUNTIME.createProgram(ast);
        } catch (Exception e) {
          throw new IllegalArgumentException("CEL does not compile: " + r + ": " + e.getMessage(), e);
        }
      });
      Map<String, Object> vars = new HashMap<>();
      vars.put("self", celValue(self));
      if (oldSelf != null) {
        vars.put("oldSelf", celValue(oldSelf));
      }
      Object result = program.eval(vars);
      return Boolean.TRUE.equals(result);
    } catch (dev.cel.runtime.CelEvaluationException e) {
      throw new IllegalStateException("CEL evaluation failed: " + rule + " on " + self + ": " + e.getMessage(), e);
    }
  }

  /** The JSON form of an object, with integers as longs and doubles as doubles (CEL int and double). */
  static Object celValue(Object value) {
    Object json = value instanceof Map<?, ?> || value instanceof List<?> ? value : JSON.convertValue(value, Object.class);
    return normalize(json);
  }

  private static Object normalize(Object o) {
    if (o instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      m.forEach((k, v) -> {
        if (v != null) {
          out.put(String.valueOf(k), normalize(v));
        }
      });
      return out;
    }
    if (o instanceof List<?> l) {
      List<Object> out = new ArrayList<>();
      l.forEach(v -> out.add(normalize(v)));
      return out;
    }
    if (o instanceof Integer i) {
      return i.longValue();
    }
    if (o instanceof Float f) {
      return f.doubleValue();
    }
    return o;
  }
}
