/**
 * Long-context evidence: the multi-query associative recall task ({@link
 * ai.djl.ttt.recall.AssociativeRecall}) that measures how much of a context a sequence layer
 * remembers.
 */
package ai.djl.ttt.recall;
