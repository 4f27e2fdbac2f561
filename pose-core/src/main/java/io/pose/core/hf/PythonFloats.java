package io.pose.core.hf;

import java.math.BigDecimal;

/**
 * Formats doubles the way Python's repr (and so transformers' config.json writer) does: shortest round-trip
 * digits, fixed notation for decimal exponents in [-4, 16), otherwise "1e-05" style, and integral values with
 * ".0". Keeps untouched numbers of a config.json byte-identical ("rms_norm_eps": 1e-05, not 1.0E-5).
 */
final class PythonFloats {
  private PythonFloats() {}

  static String repr(double d) {
    if (Double.isNaN(d)) {
      return "NaN";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "Infinity" : "-Infinity";
    }
    if (d == 0) {
      return 1 / d < 0 ? "-0.0" : "0.0";
    }
    BigDecimal shortest = new BigDecimal(Double.toString(Math.abs(d))).stripTrailingZeros();
    String digits = shortest.unscaledValue().toString();
    int exponent = digits.length() - 1 - shortest.scale();
    String sign = d < 0 ? "-" : "";
    if (exponent >= -4 && exponent < 16) {
      String plain = shortest.toPlainString();
      return sign + (plain.contains(".") ? plain : plain + ".0");
    }
    String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
    int abs = Math.abs(exponent);
    return sign + mantissa + "e" + (exponent < 0 ? "-" : "+") + (abs < 10 ? "0" + abs : String.valueOf(abs));
  }
}
