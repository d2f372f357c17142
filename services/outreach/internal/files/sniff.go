package files

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/richardlehane/mscfb"
)

// Type is a kind of document Tandem keeps: its content type and the file
// name extension that goes with it.
type Type struct {
	ContentType string
	Ext         string
}

// The types accepted.
var (
	PDF  = Type{ContentType: "application/pdf", Ext: ".pdf"}
	DOC  = Type{ContentType: "application/msword", Ext: ".doc"}
	DOCX = Type{ContentType: "application/vnd.openxmlformats-officedocument.wordprocessingml.document", Ext: ".docx"}
)

// Types are the accepted types.
var Types = []Type{PDF, DOC, DOCX}

// RefusedError is content that is none of the accepted types; What says
// what it is instead, in words for the user.
type RefusedError struct{ What string }

func (e *RefusedError) Error() string {
	return "must be a PDF, DOC or DOCX document; the content is " + e.What
}

func refuse(format string, args ...any) (Type, error) {
	return Type{}, &RefusedError{What: fmt.Sprintf(format, args...)}
}

var (
	pdfMagic = []byte("%PDF-")
	oleMagic = []byte{0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1}
	zipMagic = []byte("PK\x03\x04")
)

// Sniff decides a document's type from its content alone (ADR 17): a PDF
// by its header (and the end-of-file marker a whole PDF has in its last
// 1,024 bytes), a DOC as an OLE2 compound file whose WordDocument stream
// starts with Word's signature, a DOCX as a ZIP (OOXML package) whose
// [Content_Types].xml declares word/document.xml a Word document. The
// name and the declared type are not looked at.
func Sniff(b []byte) (Type, error) {
	switch {
	case len(b) == 0:
		return refuse("empty")
	case bytes.HasPrefix(b, pdfMagic):
		if !bytes.Contains(b[max(0, len(b)-1024):], []byte("%%EOF")) {
			return refuse("a PDF that is cut off (it has no end-of-file marker)")
		}
		return PDF, nil
	case bytes.HasPrefix(b, oleMagic):
		return sniffOLE(b)
	case bytes.HasPrefix(b, zipMagic):
		return sniffOOXML(b)
	}
	return refuse("%s", describe(b))
}

// describe names what common content that is refused is, so the error can
// say why.
func describe(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("MZ")):
		return "a Windows program"
	case bytes.HasPrefix(b, []byte("\x7fELF")):
		return "a Linux program"
	case bytes.HasPrefix(b, []byte{0xCF, 0xFA, 0xED, 0xFE}), bytes.HasPrefix(b, []byte{0xCA, 0xFE, 0xBA, 0xBE}):
		return "a macOS program"
	case bytes.HasPrefix(b, []byte("#!")):
		return "a script"
	case bytes.HasPrefix(b, []byte(`{\rtf`)):
		return "an RTF document"
	case bytes.HasPrefix(b, []byte("\x89PNG")), bytes.HasPrefix(b, []byte{0xFF, 0xD8, 0xFF}), bytes.HasPrefix(b, []byte("GIF8")):
		return "an image"
	}
	return "of a type that is not accepted"
}

// maxOLEEntries bounds how many directory entries are looked at: a Word
// document has a handful; a crafted file may claim millions.
const maxOLEEntries = 4096

// wordSignature is wIdent, the first field of a Word binary file's FIB at
// the start of its WordDocument stream (MS-DOC 2.5.2).
const wordSignature = 0xA5EC

func sniffOLE(b []byte) (Type, error) {
	r, err := mscfb.New(bytes.NewReader(b))
	if err != nil {
		return refuse("a damaged OLE2 compound file")
	}
	other := "an OLE2 compound file that is not a Word document"
	for i, f := range r.File {
		if i >= maxOLEEntries {
			break
		}
		if len(f.Path) != 0 {
			continue // only the root storage's streams say what the file is
		}
		switch f.Name {
		case "WordDocument":
			var fib [2]byte
			if n, err := f.ReadAt(fib[:], 0); n != len(fib) || (err != nil && !errors.Is(err, io.EOF)) || binary.LittleEndian.Uint16(fib[:]) != wordSignature {
				return refuse("an OLE2 compound file whose WordDocument stream is not a Word document")
			}
			return DOC, nil
		case "Workbook", "Book":
			other = "an Excel workbook"
		case "PowerPoint Document":
			other = "a PowerPoint presentation"
		}
	}
	return refuse("%s", other)
}

// The OOXML content types of a package's main part.
const (
	wordMain      = "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
	wordMacroMain = "application/vnd.ms-word.document.macroEnabled.main+xml"
	// maxContentTypes bounds how much of [Content_Types].xml is inflated
	// (a real one is a few kilobytes; this one may be a ZIP bomb).
	maxContentTypes = 1 << 20
)

type contentTypes struct {
	Overrides []struct {
		PartName    string `xml:"PartName,attr"`
		ContentType string `xml:"ContentType,attr"`
	} `xml:"Override"`
}

func sniffOOXML(b []byte) (Type, error) {
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		return refuse("a damaged ZIP archive")
	}
	var types *zip.File
	names := map[string]bool{}
	for _, f := range zr.File {
		names[f.Name] = true
		if f.Name == "[Content_Types].xml" {
			types = f
		}
	}
	switch {
	case types != nil && names["word/document.xml"]:
	case names["xl/workbook.xml"]:
		return refuse("an Excel workbook")
	case names["ppt/presentation.xml"]:
		return refuse("a PowerPoint presentation")
	default:
		return refuse("a ZIP archive that is not a Word document")
	}
	rc, err := types.Open()
	if err != nil {
		return refuse("a damaged ZIP archive")
	}
	defer rc.Close()
	var ct contentTypes
	if err := xml.NewDecoder(io.LimitReader(rc, maxContentTypes)).Decode(&ct); err != nil {
		return refuse("a ZIP archive whose [Content_Types].xml cannot be read")
	}
	for _, o := range ct.Overrides {
		if !strings.EqualFold(o.PartName, "/word/document.xml") {
			continue
		}
		switch strings.ToLower(o.ContentType) {
		case strings.ToLower(wordMain):
			return DOCX, nil
		case strings.ToLower(wordMacroMain):
			return refuse("a Word document with macros (DOCM), which is not accepted")
		}
	}
	return refuse("a ZIP archive that is not a Word document")
}
