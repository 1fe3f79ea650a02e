/**
 * Scoring and text generation over a corpus on Apache Spark: {@link ai.djl.ttt.spark.SparkScorer}
 * and {@link ai.djl.ttt.spark.SparkGenerator}, Spark ML {@code Transformer}s ({@link
 * ai.djl.ttt.spark.TextTransformer}: {@code Params}, pipelines, save and load, streaming sources),
 * add result columns to a {@code Dataset<Row>}, with one model per executor JVM ({@link
 * ai.djl.ttt.spark.ExecutorModels}) loaded through DJL's {@code Criteria} from a model directory
 * that Spark distributes or shared storage holds ({@link ai.djl.ttt.spark.ModelLocation}). See
 * {@code docs/spark.md}.
 */
package ai.djl.ttt.spark;
