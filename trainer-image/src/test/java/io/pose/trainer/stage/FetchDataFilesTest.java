package io.pose.trainer.stage;

import static org.assertj.core.api.Assertions.assertThat;

import io.pose.api.v1alpha1.DataSource;
import io.pose.trainer.fetch.InvalidModelException;
import io.pose.trainer.fetch.Source;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A dataset repository's Parquet files are JSONL-format data; its card and metadata are not. */
class FetchDataFilesTest {

  @Test
  void parquetFilesAreRecordsForTheJsonlFormat() throws InvalidModelException {
    Source.Listing repo = new Source.Listing("main", List.of(entry("README.md"), entry(".gitattributes"),
        entry("data/train-00000-of-00002.parquet"), entry("data/train-00001-of-00002.parquet"),
        entry("dataset_infos.json")));
    assertThat(FetchStage.dataFiles(repo, DataSource.Format.JSONL, "hf://datasets/x/y", "spec.training.data.source")
        .stream().map(Source.Entry::path)).containsExactly("data/train-00000-of-00002.parquet",
            "data/train-00001-of-00002.parquet");
  }

  private static Source.Entry entry(String path) {
    return new Source.Entry(path, 1, null, null);
  }
}
