package io.longnet.notebooks;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import scala.Tuple2;
import scala.tools.nsc.Settings;
import scala.tools.nsc.interpreter.IMain;
import scala.tools.nsc.interpreter.Results;
import scala.tools.nsc.interpreter.shell.ReplReporterImpl;

/**
 * Runs Scala paragraphs the way Zeppelin's Spark interpreter (and spark-shell) does: one Scala 2.13
 * interpreter, class-based wrappers ({@code -Yrepl-class-based}) compiled into {@code outputDir}, which
 * must be the SparkContext's {@code spark.repl.class.outputDir} so that executors can load the classes of
 * closures defined in a paragraph. Definitions persist from one paragraph to the next.
 */
final class ScalaParagraphs implements AutoCloseable {

    private final StringWriter messages = new StringWriter();
    private final IMain repl;

    ScalaParagraphs(Path outputDir) {
        Settings settings = new Settings();
        Tuple2<Object, scala.collection.immutable.List<String>> parsed = settings.processArgumentString(
                "-usejavacp -Yrepl-class-based -Yrepl-outdir " + outputDir.toAbsolutePath());
        if (!(Boolean) parsed._1()) {
            throw new IllegalStateException("interpreter settings not accepted: " + parsed._2());
        }
        repl = new IMain(settings, new ReplReporterImpl(settings, new PrintWriter(messages, true)));
    }

    /** Interprets {@code code}; returns null when it compiled and ran, otherwise the interpreter's messages. */
    String run(String code) {
        messages.getBuffer().setLength(0);
        Results.Result result = repl.interpret(code);
        if (result == Results.Success$.MODULE$) {
            return null;
        }
        String text = messages.toString().strip();
        return (result == Results.Incomplete$.MODULE$ ? "incomplete input (an unclosed bracket or string?)" : "error")
                + (text.isEmpty() ? "" : ":\n" + text);
    }

    @Override
    public void close() {
        repl.close();
    }
}
