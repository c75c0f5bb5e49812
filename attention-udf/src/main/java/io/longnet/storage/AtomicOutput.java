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
    /** The target's modification time when the job began; -1 when it did not exist. */
    private final long targetAtBegin;

    private AtomicOutput(FileSystem fs, Path target, Path temporary, boolean overwrite) throws IOException {
        this.fs = fs;
        this.target = target;
        this.temporary = temporary;
        this.overwrite = overwrite;
        this.targetAtBegin = modified(fs, target);
    }

    private static long modified(FileSystem fs, Path p) throws IOException {
        try {
            return fs.getFileStatus(p).getModificationTime();
        } catch (java.io.FileNotFoundException e) {
            return -1;
        }
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

    /**
     * Removes {@link #siblings} of {@code out}; returns those removed. For a run that holds {@code out}'s
     * claim ({@code --overwrite}): the claim stays.
     */
    public static List<Path> removeSiblings(String out, Configuration conf) throws IOException {
        List<Path> found = siblings(out, conf);
        FileSystem fs = HadoopFiles.writable(new Path(out), conf);
        for (Path p : found) {
            fs.delete(p, true);
        }
        return found;
    }

    /**
     * What {@code longnet clean OUT} does: removes the {@link #siblings} of {@code out} and a claim left
     * by a run that did not finish; returns those removed. Refuses, removing nothing, while a run on this
     * machine holds the claim (it is writing those siblings now).
     *
     * @throws IllegalArgumentException when a running process holds {@code out}'s claim
     */
    public static List<Path> clean(String out, Configuration conf) throws IOException {
        String running = runningClaimant(out, conf);
        if (running != null) {
            throw new IllegalArgumentException("output " + out + " is being written now (" + running
                    + "): nothing removed; clean it when no run is writing it");
        }
        List<Path> removed = new ArrayList<>(removeSiblings(out, conf));
        Path claim = claimPath(new Path(out));
        FileSystem fs = HadoopFiles.writable(claim, conf);
        if (fs.exists(claim)) {
            fs.delete(claim, false);
            removed.add(claim);
        }
        return removed;
    }

    // ---- the claim: one writer per output -----------------------------------------------------------------

    /** The suffix of the claim's name, {@code .<name>.longnet-claim}. */
    static final String CLAIM = "claim";

    /** Where the claim of {@code target} lies: a hidden sibling, so it stays on the target's file system. */
    public static Path claimPath(Path target) {
        return new Path(target.getParent(), "." + target.getName() + ".longnet-" + CLAIM);
    }

    /**
     * Claims {@code out} for this process before any work: creates its claim (a hidden sibling naming this
     * process) with create-exclusive semantics, so that of two runs on one output the second fails at once,
     * not after computing. A claim whose holder runs on this machine is refused, even with {@code overwrite};
     * one left by a run that died (or held on another machine) is refused naming it and how to remove it,
     * and taken over with {@code overwrite}; one that does not name its holder only {@code longnet clean}
     * removes. Close the claim when the run ends, however it ends. Creates the
     * missing parent folders of {@code out}, and removes them again on close when they are still empty.
     *
     * @throws IllegalArgumentException when another run holds the claim
     */
    public static Claim claim(String out, Configuration conf, boolean overwrite) throws IOException {
        Path target = new Path(out);
        if (target.getParent() == null) {
            throw new IllegalArgumentException("output " + out + " is the root of its file system: choose a path"
                    + " inside it");
        }
        FileSystem fs = HadoopFiles.writable(target, conf);
        Path created = null;
        for (Path p = target.getParent(); p != null && !fs.exists(p); p = p.getParent()) {
            created = p;
        }
        if (created != null) {
            fs.mkdirs(target.getParent());
        }
        Path path = claimPath(target);
        try {
            if (!tryCreate(fs, path)) {
                ClaimHolder holder = ClaimHolder.read(fs, path);
                if (!overwrite || !holder.replaceable()) {
                    throw new IllegalArgumentException(holder.refusal(out, path));
                }
                fs.delete(path, false);
                if (!tryCreate(fs, path)) {
                    throw new IllegalArgumentException(ClaimHolder.read(fs, path).refusal(out, path));
                }
            }
        } catch (IOException | RuntimeException e) {
            removeIfEmpty(fs, created, e);
            throw e;
        }
        return new Claim(fs, path, created);
    }

    /**
     * The holder of {@code out}'s claim when it runs on this machine now (a job is writing {@code out}), or
     * null: no claim, or one left by a run that died or held elsewhere.
     */
    public static String runningClaimant(String out, Configuration conf) throws IOException {
        Path target = new Path(out);
        FileSystem fs = HadoopFiles.writable(target, conf);
        Path path = claimPath(target);
        if (!fs.exists(path)) {
            return null;
        }
        ClaimHolder holder = ClaimHolder.read(fs, path);
        return holder.runningHere() ? holder.describe() : null;
    }

    /** Creates {@code path} holding this process's description; false when it exists. */
    private static boolean tryCreate(FileSystem fs, Path path) throws IOException {
        byte[] holder = ClaimHolder.current().line().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        java.nio.file.Path local = HadoopFiles.localFile(path, fs);
        try {
            if (local != null) {
                // Hadoop's local create(path, false) checks, then creates: not atomic. O_EXCL is.
                Files.write(local, holder, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } else {
                try (OutputStream o = fs.create(path, false)) {
                    o.write(holder);
                }
            }
            return true;
        } catch (java.nio.file.FileAlreadyExistsException | FileAlreadyExistsException e) {
            return false;
        } catch (org.apache.hadoop.ipc.RemoteException e) {
            if (e.unwrapRemoteException() instanceof FileAlreadyExistsException) {
                return false;
            }
            throw e;
        }
    }

    /** Removes {@code created} and the folders under it if they hold nothing else (folders this run made). */
    private static void removeIfEmpty(FileSystem fs, Path created, Throwable failure) {
        try {
            if (created != null && fs.exists(created)) {
                removeEmptyTree(fs, created);
            }
        } catch (IOException e) {
            if (failure != null) {
                failure.addSuppressed(e);
            }
        }
    }

    private static boolean removeEmptyTree(FileSystem fs, Path dir) throws IOException {
        for (FileStatus s : fs.listStatus(dir)) {
            if (!s.isDirectory() || !removeEmptyTree(fs, s.getPath())) {
                return false;
            }
        }
        return fs.delete(dir, false);
    }

    /** A held claim of an output; {@link #close} gives it up. */
    public static final class Claim implements Closeable {

        private final FileSystem fs;
        private final Path path;
        private final Path createdParent;

        private Claim(FileSystem fs, Path path, Path createdParent) {
            this.fs = fs;
            this.path = path;
            this.createdParent = createdParent;
        }

        public Path path() {
            return path;
        }

        @Override
        public void close() throws IOException {
            fs.delete(path, false);
            removeIfEmpty(fs, createdParent, null);
        }
    }

    /** Who holds a claim: process id, its start (epoch ms), host; what the claim file holds, one line. */
    private record ClaimHolder(long pid, long started, String host) {

        static ClaimHolder current() {
            ProcessHandle self = ProcessHandle.current();
            return new ClaimHolder(self.pid(), start(self), hostName());
        }

        private static long start(ProcessHandle p) {
            return p.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        }

        private static String hostName() {
            try {
                return java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.net.UnknownHostException e) {
                return "localhost";
            }
        }

        String line() {
            return pid + " " + started + " " + host + "\n";
        }

        /** The holder written in {@code path}; an unreadable one as a holder on no known host. */
        static ClaimHolder read(FileSystem fs, Path path) throws IOException {
            String text;
            try (java.io.InputStream in = fs.open(path)) {
                text = new String(in.readNBytes(4096), java.nio.charset.StandardCharsets.UTF_8).strip();
            } catch (java.io.FileNotFoundException e) {
                return new ClaimHolder(-1, 0, "?"); // gone meanwhile: its run has just finished
            }
            String[] f = text.split(" ", 3);
            try {
                return new ClaimHolder(Long.parseLong(f[0]), Long.parseLong(f[1]), f[2]);
            } catch (RuntimeException e) {
                return new ClaimHolder(-1, 0, "?");
            }
        }

        /** Whether the holder is a process of this machine that runs now (the same one: its start agrees). */
        boolean runningHere() {
            if (pid < 0 || !host.equals(hostName())) {
                return false;
            }
            return ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .map(p -> start(p) == started || start(p) == 0).orElse(false);
        }

        /**
         * Whether {@code --overwrite} may take the claim over: its holder is known and not running here. An
         * unreadable claim may be one being written this instant (created, its line not yet in): never.
         */
        boolean replaceable() {
            return pid >= 0 && !runningHere();
        }

        String describe() {
            return "process " + pid + " on " + host + ", since " + java.time.Instant.ofEpochMilli(started);
        }

        String refusal(String out, Path claim) {
            if (runningHere()) {
                return "output " + out + " is being written by another run (" + describe() + "): wait for it to"
                        + " finish or choose another path";
            }
            if (pid < 0) {
                return "output " + out + " is claimed by a run (" + claim.getName() + ", which does not say which):"
                        + " if no run is writing it, remove the claim with: longnet clean " + out;
            }
            String who = host.equals(hostName()) ? "a run that did not finish (" + describe()
                    + ", no longer running)" : "a run on another machine (" + describe() + ")";
            return "output " + out + " is claimed by " + who + " (" + claim.getName() + "): if no run is writing it,"
                    + " remove the claim with: longnet clean " + out + ", or pass --overwrite";
        }
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
     * Moves {@code finished} (the temporary or a file inside it) into place, replacing with overwrite the
     * target that existed when the job began; a target that appeared or changed since was written by someone
     * else, and is kept.
     *
     * @throws FileAlreadyExistsException when the target appeared or changed meanwhile, or it existed and
     *                                    overwrite was not asked for
     */
    public void commit(Path finished) throws IOException {
        long now = modified(fs, target);
        if (now != -1) {
            if (!overwrite || now != targetAtBegin) {
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
        return new FileAlreadyExistsException("output " + target + " appeared or changed while this job ran (another job"
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
