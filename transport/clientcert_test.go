package transport

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"testing"
)

// DNs are written as HAProxy writes them: one-line in the certificate's
// order, RFC 2253 last first with multi-valued RDNs joined by "+", and
// the characters each form escapes.
func TestDNForms(t *testing.T) {
	cn, ou, o := asn1.ObjectIdentifier{2, 5, 4, 3}, asn1.ObjectIdentifier{2, 5, 4, 11}, asn1.ObjectIdentifier{2, 5, 4, 10}
	seq := pkix.RDNSequence{
		{{Type: o, Value: "Acme, Inc."}},
		{{Type: ou, Value: "a"}, {Type: ou, Value: "b"}},
		{{Type: cn, Value: " #bob\xc3\xa9 "}},
	}
	if got, want := string(oneLine(seq)), `/O=Acme, Inc./OU=a/OU=b/CN= #bob\xC3\xA9 `; got != want {
		t.Errorf("one-line %q, want %q", got, want)
	}
	if got, want := string(rfc2253(seq)), `CN=\ #bob\C3\A9\ ,OU=b+OU=a,O=Acme\, Inc.`; got != want {
		t.Errorf("RFC 2253 %q, want %q", got, want)
	}
}
