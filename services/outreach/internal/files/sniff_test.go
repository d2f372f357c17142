package files_test

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"unicode/utf16"

	"github.com/tandemhq/tandem/services/outreach/internal/files"
)

// tinyPDF is a whole, minimal PDF.
func tinyPDF() []byte {
	return []byte("%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n" +
		"trailer<</Root 1 0 R>>\n%%EOF\n")
}

// ooxml is a ZIP holding the files given.
func ooxml(t *testing.T, parts map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func contentTypes(main string) string {
	return `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">
<Default Extension="xml" ContentType="application/xml"/>
<Override PartName="/word/document.xml" ContentType="` + main + `"/>
</Types>`
}

const docxMain = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"

func tinyDOCX(t *testing.T) []byte {
	return ooxml(t, map[string]string{
		"[Content_Types].xml": contentTypes(docxMain),
		"word/document.xml":   `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>`,
	})
}

// compoundFile builds an OLE2 compound file (version 3, 512-byte sectors)
// holding one stream in the root storage, as Word writes its
// WordDocument stream: header, one FAT sector, one directory sector, then
// the stream in 8 sectors (4,096 bytes, so it is not in the mini stream).
func compoundFile(streamName string, stream []byte) []byte {
	const sector = 512
	const endOfChain, freeSect, fatSect, noStream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
	data := make([]byte, 4096)
	copy(data, stream)
	le := binary.LittleEndian
	header := make([]byte, sector)
	copy(header, []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1})
	le.PutUint16(header[24:], 0x003E) // minor version
	le.PutUint16(header[26:], 0x0003) // major version 3
	le.PutUint16(header[28:], 0xFFFE) // little-endian
	le.PutUint16(header[30:], 9)      // 512-byte sectors
	le.PutUint16(header[32:], 6)      // 64-byte mini sectors
	le.PutUint32(header[44:], 1)      // one FAT sector
	le.PutUint32(header[48:], 1)      // directory at sector 1
	le.PutUint32(header[56:], 4096)   // mini stream cutoff
	le.PutUint32(header[60:], endOfChain)
	le.PutUint32(header[68:], endOfChain)
	le.PutUint32(header[76:], 0) // DIFAT[0]: the FAT is sector 0
	for i := 1; i < 109; i++ {
		le.PutUint32(header[76+4*i:], freeSect)
	}

	fat := make([]byte, sector)
	for i := range 128 {
		le.PutUint32(fat[4*i:], freeSect)
	}
	le.PutUint32(fat[0:], fatSect)
	le.PutUint32(fat[4:], endOfChain)
	for s := 2; s < 9; s++ {
		le.PutUint32(fat[4*s:], uint32(s+1))
	}
	le.PutUint32(fat[4*9:], endOfChain)

	dir := make([]byte, sector)
	entry := func(i int, name string, typ byte, child, start uint32, size uint32) {
		e := dir[128*i : 128*(i+1)]
		u := utf16.Encode([]rune(name))
		for j, c := range u {
			le.PutUint16(e[2*j:], c)
		}
		le.PutUint16(e[64:], uint16(2*(len(u)+1)))
		e[66], e[67] = typ, 1
		le.PutUint32(e[68:], noStream)
		le.PutUint32(e[72:], noStream)
		le.PutUint32(e[76:], child)
		le.PutUint32(e[116:], start)
		le.PutUint32(e[120:], size)
	}
	entry(0, "Root Entry", 5, 1, endOfChain, 0)
	entry(1, streamName, 2, noStream, 2, uint32(len(data)))
	for i := 2; i < 4; i++ {
		e := dir[128*i:]
		le.PutUint32(e[68:], noStream)
		le.PutUint32(e[72:], noStream)
		le.PutUint32(e[76:], noStream)
	}
	return bytes.Join([][]byte{header, fat, dir, data}, nil)
}

// wordFIB is the start of a Word document's FIB: wIdent 0xA5EC, then nFib.
var wordFIB = []byte{0xEC, 0xA5, 0xC1, 0x00}

func TestSniffAcceptsTheThreeTypes(t *testing.T) {
	for name, tc := range map[string]struct {
		b    []byte
		want files.Type
	}{
		"pdf":  {tinyPDF(), files.PDF},
		"docx": {tinyDOCX(t), files.DOCX},
		"doc":  {compoundFile("WordDocument", wordFIB), files.DOC},
	} {
		got, err := files.Sniff(tc.b)
		if err != nil || got != tc.want {
			t.Errorf("%s: %v %v, want %v", name, got, err, tc.want)
		}
	}
}

func TestSniffRefusesEverythingElseSayingWhatItIs(t *testing.T) {
	pe := append([]byte("MZ\x90\x00\x03\x00\x00\x00"), make([]byte, 200)...)
	copy(pe[0x80:], "PE\x00\x00")
	for name, tc := range map[string]struct {
		b    []byte
		want string
	}{
		"a Windows program called cv.pdf": {pe, "a Windows program"},
		"empty":                           {nil, "empty"},
		"a cut-off PDF":                   {tinyPDF()[:40], "cut off"},
		"a zip of text":                   {ooxml(t, map[string]string{"notes.txt": "hello"}), "a ZIP archive that is not a Word document"},
		"a zip without word/document.xml": {ooxml(t, map[string]string{"[Content_Types].xml": contentTypes(docxMain)}), "not a Word document"},
		"a zip whose types do not say Word": {ooxml(t, map[string]string{"[Content_Types].xml": contentTypes("application/xml"),
			"word/document.xml": "<x/>"}), "not a Word document"},
		"an xlsx": {ooxml(t, map[string]string{"[Content_Types].xml": contentTypes("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
			"xl/workbook.xml": "<workbook/>"}), "an Excel workbook"},
		"a docm": {ooxml(t, map[string]string{"[Content_Types].xml": contentTypes("application/vnd.ms-word.document.macroEnabled.main+xml"),
			"word/document.xml": "<x/>"}), "macros"},
		"a damaged zip":                     {[]byte("PK\x03\x04 and then nothing"), "a damaged ZIP archive"},
		"an xls":                            {compoundFile("Workbook", []byte{0x09, 0x08}), "an Excel workbook"},
		"an OLE2 file of something else":    {compoundFile("Contents", []byte("x")), "not a Word document"},
		"a WordDocument stream that is not": {compoundFile("WordDocument", []byte("MZ")), "not a Word document"},
		"a damaged OLE2 file":               {append([]byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}, make([]byte, 100)...), "damaged"},
		"an image":                          {[]byte("\x89PNG\r\n\x1a\n...."), "an image"},
		"text":                              {[]byte("Curriculum vitae\n"), "not accepted"},
		"a PDF header not at the start":     {append([]byte("junk"), tinyPDF()...), "not accepted"},
	} {
		got, err := files.Sniff(tc.b)
		var refused *files.RefusedError
		if !errors.As(err, &refused) {
			t.Errorf("%s: accepted as %v (%v)", name, got, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "must be a PDF, DOC or DOCX document") {
			t.Errorf("%s: %q, want it to say %q", name, err, tc.want)
		}
	}
}

func TestCleanName(t *testing.T) {
	for in, want := range map[string]string{
		"cv.pdf":                           "cv.pdf",
		`C:\Users\ada\My CV.pdf`:           "My CV.pdf",
		"../../etc/passwd":                 "passwd",
		"  spaced \t  out  .pdf ":          "spaced out .pdf",
		"evil\u202Efdp.exe":                "evilfdp.exe",
		"a\x00b\nc.doc":                    "ab c.doc",
		`quote"d;name.pdf`:                 "quote_d_name.pdf",
		"..hidden..":                       "hidden",
		strings.Repeat("x", 300) + ".docx": strings.Repeat("x", files.MaxNameLen-5) + ".docx",
	} {
		got, err := files.CleanName("f", in)
		if err != nil || got != want {
			t.Errorf("CleanName(%q) = %q %v, want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", " . ", "/", "\xff.pdf"} {
		if _, err := files.CleanName("f", bad); err == nil {
			t.Errorf("CleanName(%q) accepted", bad)
		}
	}
}
