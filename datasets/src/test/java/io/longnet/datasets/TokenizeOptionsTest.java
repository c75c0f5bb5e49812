package io.longnet.datasets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** The document limit as a user writes it, and as messages show it. */
class TokenizeOptionsTest {

    @Test
    void sizesParseWithBinaryUnits() {
        assertEquals(67_108_864, TokenizeOptions.parseBytes("67108864"));
        assertEquals(64 << 20, TokenizeOptions.parseBytes("64m"));
        assertEquals(64 << 20, TokenizeOptions.parseBytes(" 64MiB "));
        assertEquals(512 << 10, TokenizeOptions.parseBytes("512K"));
        assertEquals(1 << 30, TokenizeOptions.parseBytes("1g"));
        assertEquals(100, TokenizeOptions.parseBytes("100b"));
        assertEquals(TokenizeOptions.DEFAULT_MAX_DOCUMENT_BYTES,
                TokenizeOptions.defaults(DocumentMode.FILE).maxDocumentBytes());
    }

    @Test
    void badSizesSayWhatIsExpected() {
        assertEquals("--max-document-bytes 'lots': expected a size such as 64m, 512k or 1048576 (bytes)",
                assertThrows(IllegalArgumentException.class, () -> TokenizeOptions.parseBytes("lots")).getMessage());
        assertEquals("--max-document-bytes must be between 1 and 2 GiB (what one Java array holds), got 0",
                assertThrows(IllegalArgumentException.class, () -> TokenizeOptions.parseBytes("0")).getMessage());
        assertThrows(IllegalArgumentException.class, () -> TokenizeOptions.parseBytes("2g"));
        assertThrows(IllegalArgumentException.class, () -> TokenizeOptions.parseBytes("99999999999999999999g"));
        assertThrows(IllegalArgumentException.class,
                () -> TokenizeOptions.defaults(DocumentMode.LINE).withMaxDocumentBytes(-1));
    }

    @Test
    void sizesFormatForMessages() {
        assertEquals("100 bytes", TokenizeOptions.formatBytes(100));
        assertEquals("1 KiB", TokenizeOptions.formatBytes(1024));
        assertEquals("1.5 KiB", TokenizeOptions.formatBytes(1536));
        assertEquals("64 MiB", TokenizeOptions.formatBytes(64 << 20));
    }
}
