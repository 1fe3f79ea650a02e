/**
 * ttt-djl in DJL's model zoo: {@link ai.djl.ttt.zoo.TttModelZoo} (group {@code ai.djl.ttt}) lists
 * saved and official model directories for {@code Criteria}, and {@link
 * ai.djl.ttt.zoo.TttTranslatorFactory} makes the generation, streaming and scoring translators.
 */
package ai.djl.ttt.zoo;
