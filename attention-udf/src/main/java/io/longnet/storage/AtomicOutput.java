package io.longnet.storage;

import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.regex.Pattern;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileAlreadyExistsException;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * Output that appears complete or not at all: written into a hidden sibling of the target (same folder, so
 * the final rename stays within one file system; a name starting with '.', which Spark's and Hadoop's
 * readers skip), then moved into place, replacing an existing target only then ({@code --overwrite}). The
 * sibling is removed when anything fails. The one such helper: jobs use an instance over a Hadoop path
 * ({@code file:}, {@code hdfs://}; local paths through the raw file system, so no {@code .crc} files
 * appear); Spark-free callers (checkpoints, the model directory, the training log) use the static
 * {@code java.nio} methods, which also hold the one recursive delete.
 */
public final class AtomicOutput implements Closeable {

    private final FileSystem fs;
    private final Path target;
    private final Path temporary;
    private final boolean overwrite;

    private AtomicOutput(FileSystem fs, Path target, Path temporary, boolean overwrite) {
        this.fs = fs;
        this.target = target;
        this.temporary = temporary;
        this.overwrite = overwrite;
    }

    /**
     * Refuses an existing output unless {@code overwrite}: "output X exists: remove it, choose another path
     * or pass --overwrite".
     */
    public static void requireAbsent(String out, Configuration conf, boolean overwrite) throws IOException {
        Path path = new Path(out);
        if (!overwrite && path.getFileSystem(conf).exists(path)) {
            throw exists(out);
        }
    }

    /** As {@link #requireAbsent(String, Configuration, boolean)} for a local path. */
    public static void requireAbsent(java.nio.file.Path out, boolean overwrite) {
        if (!overwrite && Files.exists(out)) {
            throw exists(out.toString());
        }
    }

    private static IllegalArgumentException exists(String out) {
        return new IllegalArgumentException("output " + out + " exists: remove it, choose another path or pass"
                + " --overwrite");
    }

    /**
     * Claims a fresh hidden sibling of {@code out} to write into (not created: the writer creates it, as a
     * file or a folder). Close the returned output in a {@code finally}: it removes whatever the sibling
     * still holds. Without {@code overwrite}, the commit refuses a target that appeared meanwhile (another
     * job writing the same path) instead of replacing it.
     */
    public static AtomicOutput begin(String out, Configuration conf, boolean overwrite) throws IOException {
        Path target = new Path(out);
        return new AtomicOutput(HadoopFiles.writable(target, conf), target, sibling(target, "tmp"), overwrite);
    }

    /** A fresh hidden sibling of {@code target}, {@code .<name>.longnet-<kind>-<uuid>}, e.g. for checkpoints. */
    public static Path sibling(Path target, String kind) {
        return new Path(target.getParent(), siblingName(target.getName(), kind));
    }

    private static String siblingName(String name, String kind) {
        return "." + name + ".longnet-" + kind + "-" + UUID.randomUUID();
    }

    /**
     * The hidden siblings of {@code out} ({@link #sibling}'s names: temporaries, set-aside old outputs,
     * checkpoints) that exist now: left by runs that died, or in use by a run on {@code out} now. Empty when
     * the parent does not exist.
     */
    public static List<Path> siblings(String out, Configuration conf) throws IOException {
        Path target = new Path(out);
        Path parent = target.getParent();
        FileSystem fs = HadoopFiles.writable(target, conf);
        if (parent == null || !fs.exists(parent)) {
            return List.of();
        }
        String prefix = "." + target.getName() + ".longnet-";
        List<Path> found = new ArrayList<>();
        for (FileStatus s : fs.listStatus(parent, p -> p.getName().startsWith(prefix)
                && SIBLING_SUFFIX.matcher(p.getName().substring(prefix.length())).matches())) {
            found.add(s.getPath());
        }
        found.sort(null);
        return found;
    }

    /** A sibling's name after {@code .<name>.longnet-}: its kind and the UUID. */
    private static final Pattern SIBLING_SUFFIX = Pattern.compile("[a-z]+-[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}");

    /** Removes {@link #siblings} of {@code out}; returns those removed. */
    public static List<Path> removeSiblings(String out, Configuration conf) throws IOException {
        List<Path> found = siblings(out, conf);
        FileSystem fs = HadoopFiles.writable(new Path(out), conf);
        for (Path p : found) {
            fs.delete(p, true);
        }
        return found;
    }

    /** The file system of the target (local paths: the raw one, without {@code .crc} side files). */
    public FileSystem fileSystem() {
        return fs;
    }

    public Path target() {
        return target;
    }

    /** Where to write: the hidden sibling. */
    public Path temporary() {
        return temporary;
    }

    /** Moves the finished {@link #temporary} into place (see {@link #commit(Path)}). */
    public void commit() throws IOException {
        commit(temporary);
    }

    /**
     * Moves {@code finished} (the temporary or a file inside it) into place, replacing an existing target
     * with overwrite; without, a target that exists now was written by someone else since the job began,
     * and is kept.
     *
     * @throws FileAlreadyExistsException when the target appeared meanwhile and overwrite was not asked for
     */
    public void commit(Path finished) throws IOException {
        if (fs.exists(target)) {
            if (!overwrite) {
                throw appeared();
            }
            if (!fs.delete(target, true)) {
                throw new IOException("could not replace " + target);
            }
        }
        if (!fs.rename(finished, target)) {
            throw new IOException("could not move the finished output to " + target + " (does it exist now?)");
        }
        // A folder created at the target between the check and the rename takes ours inside it: take it out.
        Path inside = new Path(target, finished.getName());
        if (fs.exists(inside)) {
            fs.delete(inside, true);
            throw appeared();
        }
    }

    private FileAlreadyExistsException appeared() {
        return new FileAlreadyExistsException("output " + target + " appeared while this job ran (another job"
                + " writing the same path?); it is left as it is and this job's result is discarded: remove it, choose"
                + " another path or pass --overwrite");
    }

    /** Removes what is left of the temporary (nothing once it was committed). */
    @Override
    public void close() throws IOException {
        fs.delete(temporary, true);
    }

    // ---- local files (java.nio), for Spark-free callers -------------------------------------------------

    /** Writes a file or fills a folder at the path given. */
    public interface Body {
        void write(java.nio.file.Path temporary) throws IOException;
    }

    /** Writes {@code bytes} as {@code file}, atomically. */
    public static void writeFile(java.nio.file.Path file, byte[] bytes) throws IOException {
        writeFile(file, tmp -> {
            try (OutputStream out = Files.newOutputStream(tmp, StandardOpenOption.CREATE_NEW,
                    StandardOpenOption.WRITE)) {
                out.write(bytes);
            }
        });
    }

    /**
     * Has {@code body} write a hidden sibling of {@code file}, forces it to disk and moves it over
     * {@code file}; a failed write leaves {@code file} as it was and no sibling behind. Creates the parent
     * folders.
     */
    public static void writeFile(java.nio.file.Path file, Body body) throws IOException {
        java.nio.file.Path target = file.toAbsolutePath();
        Files.createDirectories(target.getParent());
        java.nio.file.Path tmp = target.resolveSibling(siblingName(target.getFileName().toString(), "tmp"));
        try {
            body.write(tmp);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ch.force(true);
            }
            move(tmp, target, true);
        } catch (IOException | RuntimeException | Error e) {
            discard(tmp, e);
            throw e;
        }
    }

    /**
     * Has {@code body} fill a hidden sibling folder of {@code dir}, then renames it into place: a reader sees
     * the old folder or the complete new one, never a part. An existing {@code dir} is renamed aside first
     * (and put back if the rename fails), then removed.
     */
    public static void replaceDirectory(java.nio.file.Path dir, Body body) throws IOException {
        java.nio.file.Path target = dir.toAbsolutePath();
        Files.createDirectories(target.getParent());
        String name = target.getFileName().toString();
        java.nio.file.Path tmp = target.resolveSibling(siblingName(name, "tmp"));
        try {
            Files.createDirectory(tmp);
            body.write(tmp);
            syncDirectory(tmp);
            if (Files.exists(target, LinkOption.NOFOLLOW_LINKS)) {
                java.nio.file.Path old = target.resolveSibling(siblingName(name, "old"));
                move(target, old, false);
                try {
                    move(tmp, target, false);
                } catch (IOException | RuntimeException e) {
                    move(old, target, false); // put the previous one back
                    throw e;
                }
                deleteRecursively(old);
            } else {
                move(tmp, target, false);
            }
            syncDirectory(target.getParent());
        } catch (IOException | RuntimeException | Error e) {
            discard(tmp, e);
            throw e;
        }
    }

    /** Removes {@code tmp} after {@code failure}; a failure to remove it is kept as a suppressed one. */
    private static void discard(java.nio.file.Path tmp, Throwable failure) {
        try {
            deleteRecursively(tmp);
        } catch (IOException suppressed) {
            failure.addSuppressed(suppressed);
        }
    }

    /**
     * Removes {@code p} and everything under it, first renamed to a hidden sibling so that no reader ever
     * sees it half-deleted. Nothing happens when it does not exist.
     */
    public static void delete(java.nio.file.Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        java.nio.file.Path target = p.toAbsolutePath();
        java.nio.file.Path old = target.resolveSibling(siblingName(target.getFileName().toString(), "old"));
        move(target, old, false);
        deleteRecursively(old);
    }

    /** Removes {@code p} and everything under it (links are removed, not followed); nothing when absent. */
    public static void deleteRecursively(java.nio.file.Path p) throws IOException {
        if (!Files.exists(p, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try (DirectoryStream<java.nio.file.Path> s = Files.newDirectoryStream(p)) {
                for (java.nio.file.Path c : s) {
                    deleteRecursively(c);
                }
            }
        }
        Files.delete(p);
    }

    private static void move(java.nio.file.Path from, java.nio.file.Path to, boolean replace) throws IOException {
        try {
            if (replace) {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(from, to, StandardCopyOption.ATOMIC_MOVE);
            }
        } catch (AtomicMoveNotSupportedException e) {
            if (replace) {
                Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
            } else {
                Files.move(from, to);
            }
        }
    }

    /** Forces a directory's entries (a rename) to disk where the platform allows; best effort elsewhere. */
    private static void syncDirectory(java.nio.file.Path dir) {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // Not every platform opens directories (Windows does not); the rename is still atomic.
        }
    }
}
