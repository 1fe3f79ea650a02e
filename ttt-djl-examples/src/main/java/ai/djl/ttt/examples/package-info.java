/** The {@code ttt} command line: programs built on ttt-djl's blocks. */
package ai.djl.ttt.examples;
