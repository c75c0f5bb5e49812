package io.longnet.datasets;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import io.longnet.storage.HadoopFiles;
import io.longnet.tensors.StrictJson;
import io.longnet.tensors.TensorFormatException;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;

/**
 * The {@code _longnet.json} file of a dataset folder, for both kinds of manifest ({@link BlockManifest},
 * {@link TokenManifest}): where it lies, how it is written and read.
 */
final class ManifestFile {

    static final String NAME = "_longnet.json";

    private ManifestFile() {
    }

    /**
     * Writes {@code manifest} (a record naming its keys with {@code @JsonProperty}) as {@code dir/_longnet.json},
     * replacing one that is there.
     */
    static void write(String dir, Configuration conf, Object manifest) throws IOException {
        Path path = new Path(dir, NAME);
        FileSystem fs = HadoopFiles.writable(path, conf);
        try (OutputStream out = fs.create(path, true)) {
            out.write(StrictJson.defaultPretty(manifest).getBytes(StandardCharsets.UTF_8));
        }
    }

    /**
     * The JSON of {@code dir/_longnet.json}.
     *
     * @param missing the message when there is none, e.g. "DIR is not a longnet token dataset (...)"
     * @throws FileNotFoundException with {@code missing}
     * @throws TensorFormatException when it is not valid JSON (one line, where the problem is)
     */
    static JsonNode read(String dir, Configuration conf, String missing) throws IOException {
        Path path = new Path(dir, NAME);
        FileSystem fs = path.getFileSystem(conf);
        if (!fs.exists(path)) {
            throw new FileNotFoundException(missing);
        }
        byte[] bytes;
        try (InputStream in = fs.open(path)) {
            bytes = in.readAllBytes();
        }
        try {
            return StrictJson.readTree(bytes);
        } catch (JsonProcessingException e) {
            throw new TensorFormatException(dir + ": " + NAME + " is not valid JSON: " + StrictJson.problem(e));
        }
    }
}
