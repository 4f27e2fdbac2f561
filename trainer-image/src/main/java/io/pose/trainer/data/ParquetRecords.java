package io.pose.trainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;
import org.apache.parquet.ParquetReadOptions;
import org.apache.parquet.column.page.PageReadStore;
import org.apache.parquet.example.data.Group;
import org.apache.parquet.example.data.simple.convert.GroupRecordConverter;
import org.apache.parquet.hadoop.ParquetFileReader;
import org.apache.parquet.io.ColumnIOFactory;
import org.apache.parquet.io.LocalInputFile;
import org.apache.parquet.io.MessageColumnIO;
import org.apache.parquet.io.RecordReader;
import org.apache.parquet.io.api.Binary;
import org.apache.parquet.schema.GroupType;
import org.apache.parquet.schema.LogicalTypeAnnotation;
import org.apache.parquet.schema.MessageType;
import org.apache.parquet.schema.PrimitiveType;
import org.apache.parquet.schema.Type;

/**
 * Reads a Parquet file's rows as JSON objects, one row group in memory at a time: each column becomes a field, with
 * strings, numbers, booleans and nulls as JSON values, lists (LIST, or a bare repeated field) as arrays and structs
 * and maps as objects, so a row reads as the same record as its JSON-lines export (what pyarrow's to_pylist()
 * gives; tools/reference/make_parquet_fixtures.py). Binary columns without a string annotation become base64 text.
 */
final class ParquetRecords {
  private ParquetRecords() {}

  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  /** The top-level fields of the file's schema, in order. */
  static List<String> columns(Path file) throws IOException {
    try (ParquetFileReader reader = open(file)) {
      return reader.getFooter().getFileMetaData().getSchema().getFields().stream().map(Type::getName).toList();
    }
  }

  private static ParquetFileReader open(Path file) {
    try {
      return ParquetFileReader.open(new LocalInputFile(file), ParquetReadOptions.builder().build());
    } catch (IOException | RuntimeException e) {
      throw corrupt(file, e);
    }
  }

  /** Hands each row of the file to the action in order, with the origin {@code file:row N} (from 1). */
  static void forEach(Path file, Consumer<TextRecords.Record> action) throws IOException {
    try (ParquetFileReader reader = open(file)) {
      MessageType schema = reader.getFooter().getFileMetaData().getSchema();
      MessageColumnIO columns = new ColumnIOFactory().getColumnIO(schema);
      long row = 0;
      while (true) {
        PageReadStore rowGroup;
        RecordReader<Group> rows;
        try {
          rowGroup = reader.readNextRowGroup();
          if (rowGroup == null) {
            return;
          }
          rows = columns.getRecordReader(rowGroup, new GroupRecordConverter(schema));
        } catch (IOException | RuntimeException e) {
          throw corrupt(file, e);
        }
        for (long i = 0; i < rowGroup.getRowCount(); i++) {
          ObjectNode record;
          try {
            record = object(rows.read());
          } catch (RuntimeException e) {
            throw corrupt(file, e);
          }
          // outside the try: the action's own errors are not the file's
          action.accept(new TextRecords.Record(record, file + ":row " + ++row));
        }
      }
    }
  }

  private static DataException corrupt(Path file, Exception e) {
    DataException error = new DataException(file + ": not a readable Parquet file (" + e.getMessage() + ")");
    error.initCause(e);
    return error;
  }

  private static ObjectNode object(Group group) {
    ObjectNode out = NODES.objectNode();
    GroupType type = group.getType();
    for (int i = 0; i < type.getFieldCount(); i++) {
      out.set(type.getFieldName(i), field(group, i));
    }
    return out;
  }

  /** A field's value: null when an optional field is absent, an array for a bare repeated field. */
  private static JsonNode field(Group group, int index) {
    Type type = group.getType().getType(index);
    int count = group.getFieldRepetitionCount(index);
    if (type.isRepetition(Type.Repetition.REPEATED)) {
      ArrayNode out = NODES.arrayNode();
      for (int k = 0; k < count; k++) {
        out.add(value(group, index, k, type));
      }
      return out;
    }
    return count == 0 ? NODES.nullNode() : value(group, index, 0, type);
  }

  private static JsonNode value(Group group, int index, int k, Type type) {
    if (type.isPrimitive()) {
      return primitive(group, index, k, type.asPrimitiveType());
    }
    Group value = group.getGroup(index, k);
    LogicalTypeAnnotation logical = type.getLogicalTypeAnnotation();
    if (logical instanceof LogicalTypeAnnotation.ListLogicalTypeAnnotation) {
      return list(value);
    }
    if (logical instanceof LogicalTypeAnnotation.MapLogicalTypeAnnotation) {
      return map(value);
    }
    return object(value);
  }

  /**
   * A LIST group: one repeated field holding the elements, read by the format's backward-compatibility rules (a
   * repeated group of one field wraps the element, unless it is an older writer's "array" or "_tuple" record).
   */
  private static ArrayNode list(Group list) {
    ArrayNode out = NODES.arrayNode();
    Type repeated = list.getType().getType(0);
    boolean wrapped = !repeated.isPrimitive() && repeated.asGroupType().getFieldCount() == 1
        && !repeated.getName().equals("array") && !repeated.getName().endsWith("_tuple");
    int count = list.getFieldRepetitionCount(0);
    for (int k = 0; k < count; k++) {
      out.add(wrapped ? field(list.getGroup(0, k), 0) : value(list, 0, k, repeated));
    }
    return out;
  }

  /** A MAP group: repeated key-value records, as an object keyed by the keys' text. */
  private static ObjectNode map(Group map) {
    ObjectNode out = NODES.objectNode();
    int count = map.getFieldRepetitionCount(0);
    for (int k = 0; k < count; k++) {
      Group entry = map.getGroup(0, k);
      out.set(field(entry, 0).asText(), entry.getType().getFieldCount() > 1 ? field(entry, 1) : NODES.nullNode());
    }
    return out;
  }

  private static JsonNode primitive(Group group, int index, int k, PrimitiveType type) {
    LogicalTypeAnnotation logical = type.getLogicalTypeAnnotation();
    int scale = logical instanceof LogicalTypeAnnotation.DecimalLogicalTypeAnnotation d ? d.getScale() : -1;
    return switch (type.getPrimitiveTypeName()) {
      case BOOLEAN -> NODES.booleanNode(group.getBoolean(index, k));
      case INT32 -> scale >= 0 ? NODES.numberNode(BigDecimal.valueOf(group.getInteger(index, k), scale))
          : NODES.numberNode(group.getInteger(index, k));
      case INT64 -> {
        long v = group.getLong(index, k);
        // an int where it fits, as Jackson reads the same number from JSON: records compare equal across formats
        yield scale >= 0 ? NODES.numberNode(BigDecimal.valueOf(v, scale))
            : v == (int) v ? NODES.numberNode((int) v) : NODES.numberNode(v);
      }
      case FLOAT -> NODES.numberNode((double) group.getFloat(index, k));
      case DOUBLE -> NODES.numberNode(group.getDouble(index, k));
      case INT96 -> NODES.binaryNode(group.getInt96(index, k).getBytes()); // an older writers' timestamp
      case BINARY, FIXED_LEN_BYTE_ARRAY -> {
        Binary v = group.getBinary(index, k);
        if (scale >= 0) {
          yield NODES.numberNode(new BigDecimal(new BigInteger(v.getBytes()), scale));
        }
        boolean text = logical instanceof LogicalTypeAnnotation.StringLogicalTypeAnnotation
            || logical instanceof LogicalTypeAnnotation.EnumLogicalTypeAnnotation
            || logical instanceof LogicalTypeAnnotation.JsonLogicalTypeAnnotation;
        yield text ? NODES.textNode(v.toStringUsingUTF8()) : NODES.binaryNode(v.getBytes());
      }
    };
  }
}
