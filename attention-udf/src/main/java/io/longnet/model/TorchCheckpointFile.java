package io.longnet.model;

import io.longnet.tensors.DType;
import java.io.IOException;
import java.io.InputStream;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.ZipEntry;
import java.util.zip.ZipException;
import java.util.zip.ZipFile;
import net.razorvine.pickle.IObjectConstructor;
import net.razorvine.pickle.Opcodes;
import net.razorvine.pickle.PickleException;
import net.razorvine.pickle.PickleUtils;
import net.razorvine.pickle.Unpickler;
import net.razorvine.pickle.objects.ClassDictConstructor;

/**
 * A file written by PyTorch's {@code torch.save} (the zip format, PyTorch 1.6 and later): a pickle,
 * {@code <archive>/data.pkl}, whose tensors point by key at raw little-endian storages,
 * {@code <archive>/data/<key>}. Read through {@code net.razorvine:pickle} with PyTorch's few globals
 * resolved here to data (tensors, ordered dicts, storage types); nothing in the file is ever run.
 *
 * <p>Python values come back as razorvine gives them (dicts as maps, lists, tuples as {@code Object[]},
 * numbers, strings); a tensor as a {@link ModelWeights.Tensor} (F32, and F16/BF16 widened exactly). Tensors
 * that share a storage (a tied LM head) read it once.
 */
public final class TorchCheckpointFile {

    private TorchCheckpointFile() {
    }

    /**
     * The object {@code torch.save} wrote to {@code file}.
     *
     * @throws ModelFormatException naming the file when it is no {@code torch.save} zip, or holds a dtype or
     *     object this reader does not take
     */
    public static Object read(Path file) throws IOException {
        String source = "checkpoint " + file;
        ZipFile zip;
        try {
            zip = new ZipFile(file.toFile());
        } catch (ZipException e) {
            throw new ModelFormatException(source, "not a torch.save zip archive (" + e.getMessage() + "): give the"
                    + " .pt that torch.save writes (PyTorch 1.6 or later), or the state dict as .safetensors");
        }
        try (zip) {
            String prefix = archivePrefix(zip, source);
            ZipEntry order = zip.getEntry(prefix + "byteorder");
            if (order != null && !"little".equals(new String(bytes(zip, order), StandardCharsets.US_ASCII).strip())) {
                throw new ModelFormatException(source, "storages are big-endian; save the checkpoint on a"
                        + " little-endian machine, or export the state dict as .safetensors");
            }
            try (InputStream pickle = zip.getInputStream(zip.getEntry(prefix + "data.pkl"))) {
                return new TorchUnpickler(zip, prefix, source).load(pickle);
            } catch (PickleException e) {
                throw new ModelFormatException(source, "data.pkl: " + e.getMessage(), e);
            }
        }
    }

    /** The archive's folder ({@code "archive/"}, or the file's stem as older PyTorch named it). */
    private static String archivePrefix(ZipFile zip, String source) {
        for (Enumeration<? extends ZipEntry> e = zip.entries(); e.hasMoreElements(); ) {
            String name = e.nextElement().getName();
            int slash = name.indexOf('/');
            if (slash >= 0 && name.substring(slash + 1).equals("data.pkl")) {
                return name.substring(0, slash + 1);
            }
        }
        throw new ModelFormatException(source, "no data.pkl in the archive: not a file written by torch.save");
    }

    private static byte[] bytes(ZipFile zip, ZipEntry entry) throws IOException {
        try (InputStream in = zip.getInputStream(entry)) {
            return in.readAllBytes();
        }
    }

    /** A storage's element type, from its pickled class ({@code torch.FloatStorage}, ...). */
    private record StorageType(String name, DType dtype) {
    }

    /** One storage's values, widened to float. */
    private record Storage(String key, float[] values) {
    }

    /**
     * {@code collections.OrderedDict}: a map in insertion order. {@code torch.save} of a module's
     * {@code state_dict()} adds a {@code _metadata} attribute (per-module versions), which is dropped.
     */
    public static final class OrderedDict extends LinkedHashMap<Object, Object> {

        /** Called by the unpickler for the dict's attributes (BUILD). */
        public void __setstate__(HashMap<String, Object> state) {
            // _metadata only: versions of modules, nothing a reader of the tensors needs.
        }
    }

    /** The unpickler of one archive: globals resolved to data constructors, storages read from the zip. */
    private static final class TorchUnpickler extends Unpickler {

        private final ZipFile zip;
        private final String prefix;
        private final String source;
        private final Map<String, Storage> storages = new HashMap<>();

        TorchUnpickler(ZipFile zip, String prefix, String source) {
            this.zip = zip;
            this.prefix = prefix;
            this.source = source;
        }

        /** GLOBAL and STACK_GLOBAL resolve here, never through razorvine's process-wide registry. */
        @Override
        protected Object dispatch(short key) throws PickleException, IOException {
            if (key == Opcodes.GLOBAL) {
                String module = PickleUtils.readline(input);
                String name = PickleUtils.readline(input);
                stack.add(global(module, name));
                return NO_RETURN_VALUE;
            }
            if (key == Opcodes.STACK_GLOBAL) {
                String name = (String) stack.pop();
                String module = (String) stack.pop();
                stack.add(global(module, name));
                return NO_RETURN_VALUE;
            }
            return super.dispatch(key);
        }

        private Object global(String module, String name) {
            String qualified = module + "." + name;
            switch (qualified) {
                case "torch._utils._rebuild_tensor_v2":
                    return (IObjectConstructor) this::rebuildTensor;
                case "torch._utils._rebuild_parameter":
                    return (IObjectConstructor) args -> args[0];
                case "collections.OrderedDict":
                    return (IObjectConstructor) args -> new OrderedDict();
                case "torch.FloatStorage":
                    return new StorageType(name, DType.F32);
                case "torch.HalfStorage":
                    return new StorageType(name, DType.F16);
                case "torch.BFloat16Storage":
                    return new StorageType(name, DType.BF16);
                default:
                    if (module.equals("torch") && name.endsWith("Storage")) {
                        return new StorageType(name, null);
                    }
                    // Plain data classes (argparse.Namespace of fairseq's args): a map of their attributes.
                    return new ClassDictConstructor(module, name);
            }
        }

        /** BINPERSID: {@code ("storage", type, key, location, numel)}. */
        @Override
        protected Object persistentLoad(Object pid) {
            if (!(pid instanceof Object[] t) || t.length < 5 || !"storage".equals(t[0])
                    || !(t[1] instanceof StorageType type)) {
                throw new ModelFormatException(source, "data.pkl: unexpected persistent id "
                        + (pid instanceof Object[] a ? Arrays.deepToString(a) : pid));
            }
            String storageKey = String.valueOf(t[2]);
            if (type.dtype() == null) {
                throw new ModelFormatException(source, "storage " + storageKey + " is a torch." + type.name()
                        + "; model weights must be float32, float16 or bfloat16: convert the model (model.float())"
                        + " before torch.save");
            }
            return storages.computeIfAbsent(storageKey, k -> readStorage(k, type.dtype(), ((Number) t[4]).longValue()));
        }

        private Storage readStorage(String storageKey, DType dtype, long count) {
            ZipEntry entry = zip.getEntry(prefix + "data/" + storageKey);
            if (entry == null) {
                throw new ModelFormatException(source, "storage record data/" + storageKey + " is missing");
            }
            try {
                byte[] raw = bytes(zip, entry);
                if (count > Integer.MAX_VALUE - 8 || raw.length < count * dtype.bytes()) {
                    throw new ModelFormatException(source, "storage record data/" + storageKey + " holds " + raw.length
                            + " bytes, expected " + count + " elements of " + dtype.bytes() + " bytes");
                }
                float[] values = new float[(int) count];
                dtype.decode(raw, 0, values.length, FloatBuffer.wrap(values));
                return new Storage(storageKey, values);
            } catch (IOException e) {
                throw new ModelFormatException(source, "storage record data/" + storageKey + ": " + e.getMessage(), e);
            }
        }

        /** {@code _rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks[, metadata])}. */
        private Object rebuildTensor(Object[] args) {
            Storage storage = (Storage) args[0];
            int offset = ((Number) args[1]).intValue();
            int[] size = ints(args[2]);
            int[] stride = ints(args[3]);
            long count = 1;
            long last = offset;
            for (int i = 0; i < size.length; i++) {
                count *= size[i];
                last += (long) (size[i] - 1) * stride[i];
            }
            if (count > 0 && (offset < 0 || last >= storage.values().length)) {
                throw new ModelFormatException(source, "a tensor of shape " + Arrays.toString(size) + " reaches past"
                        + " its storage data/" + storage.key() + " (" + storage.values().length + " elements)");
            }
            float[] data = new float[(int) count];
            // Row-major walk over the index space, reading through the strides (a view need not be contiguous).
            int[] index = new int[size.length];
            for (int n = 0; n < count; n++) {
                long at = offset;
                for (int i = 0; i < size.length; i++) {
                    at += (long) index[i] * stride[i];
                }
                data[n] = storage.values()[(int) at];
                for (int i = size.length - 1; i >= 0 && ++index[i] == size[i]; i--) {
                    index[i] = 0;
                }
            }
            return new ModelWeights.Tensor(size, data);
        }

        private static int[] ints(Object tuple) {
            Object[] t = (Object[]) tuple;
            int[] out = new int[t.length];
            for (int i = 0; i < t.length; i++) {
                out[i] = ((Number) t[i]).intValue();
            }
            return out;
        }
    }

    /** The entries of a pickled list or tuple, as a list. */
    static List<Object> asList(Object value) {
        if (value instanceof Object[] a) {
            return Arrays.asList(a);
        }
        if (value instanceof List<?> l) {
            return new ArrayList<>(l);
        }
        return null;
    }
}
