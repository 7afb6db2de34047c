package transport

import (
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"strconv"
	"time"
)

// ClientFacts encodes what the ssl_c fetches tell of certificate c, made
// once per connection: each fact is its length in decimal, a colon, then
// its bytes (some are binary), in this order, which lj/lua/fetches.lua
// reads:
//  1. the subject DN in OpenSSL's one-line form (/C=FR/O=Example/CN=alice)
//  2. the issuer DN, the same way
//  3. the serial number's bytes, big-endian
//  4. the SHA-1 of the DER certificate
//  5. and 6. notBefore and notAfter as X.509 writes them (YYMMDDhhmmssZ)
//  7. the DER certificate
//  8. the X.509 version ("3")
//  9. and 10. OpenSSL's short names of the signature and key algorithms
//  11. and 12. the subject and issuer DNs in RFC 2253's form
func ClientFacts(c *x509.Certificate) []byte {
	var b []byte
	put := func(v []byte) {
		b = strconv.AppendInt(b, int64(len(v)), 10)
		b = append(b, ':')
		b = append(b, v...)
	}
	sum := sha1.Sum(c.Raw)
	subject, issuer := rdns(c.RawSubject), rdns(c.RawIssuer)
	put(oneLine(subject))
	put(oneLine(issuer))
	put(c.SerialNumber.Bytes())
	put(sum[:])
	put([]byte(asn1Time(c.NotBefore)))
	put([]byte(asn1Time(c.NotAfter)))
	put(c.Raw)
	put(strconv.AppendInt(nil, int64(c.Version), 10))
	put([]byte(sigAlgNames[c.SignatureAlgorithm]))
	put([]byte(keyAlgNames[c.PublicKeyAlgorithm]))
	put(rfc2253(subject))
	put(rfc2253(issuer))
	return b
}

// rdns parses a DN as the certificate holds it: its RDNs in order, and
// the attributes of a multi-valued one together (pkix.Name loses both).
func rdns(raw []byte) pkix.RDNSequence {
	var seq pkix.RDNSequence
	if _, err := asn1.Unmarshal(raw, &seq); err != nil {
		return nil
	}
	return seq
}

// attrName is OpenSSL's short name of an attribute type, or its OID.
func attrName(t asn1.ObjectIdentifier) string {
	if name, ok := attrNames[t.String()]; ok {
		return name
	}
	return t.String()
}

// asn1Time writes t as X.509 encodes a validity time: UTCTime up to 2049,
// GeneralizedTime after (RFC 5280 section 4.1.2.5), which is what
// HAProxy's ssl_c_notbefore and ssl_c_notafter give.
func asn1Time(t time.Time) string {
	t = t.UTC()
	if t.Year() >= 1950 && t.Year() < 2050 {
		return t.Format("060102150405Z")
	}
	return t.Format("20060102150405Z")
}

// oneLine writes a distinguished name as HAProxy's ssl_c_s_dn does (as
// OpenSSL's X509_NAME_oneline): each attribute in the certificate's order,
// as /TYPE=value, with OpenSSL's short names of the types; bytes outside
// printable ASCII as \xXX.
func oneLine(seq pkix.RDNSequence) []byte {
	const hex = "0123456789ABCDEF"
	var b []byte
	for _, rdn := range seq {
		for _, atv := range rdn {
			b = append(b, '/')
			b = append(b, attrName(atv.Type)...)
			b = append(b, '=')
			v := fmt.Sprint(atv.Value)
			for i := 0; i < len(v); i++ {
				if c := v[i]; c < ' ' || c > '~' {
					b = append(b, '\\', 'x', hex[c>>4], hex[c&15])
				} else {
					b = append(b, c)
				}
			}
		}
	}
	return b
}

// rfc2253 writes a distinguished name as ssl_c_s_dn(,0,rfc2253) does (as
// OpenSSL's XN_FLAG_RFC2253): the attributes last first, RDNs separated
// by commas and the attributes of a multi-valued one by plus signs; in a
// value the characters RFC 2253 names, and bytes outside printable
// ASCII, escaped.
func rfc2253(seq pkix.RDNSequence) []byte {
	const hex = "0123456789ABCDEF"
	var b []byte
	for i := len(seq) - 1; i >= 0; i-- {
		if i < len(seq)-1 {
			b = append(b, ',')
		}
		for j := len(seq[i]) - 1; j >= 0; j-- {
			if j < len(seq[i])-1 {
				b = append(b, '+')
			}
			atv := seq[i][j]
			b = append(b, attrName(atv.Type)...)
			b = append(b, '=')
			v := fmt.Sprint(atv.Value)
			for k := 0; k < len(v); k++ {
				switch c := v[k]; {
				case c < ' ' || c > '~':
					b = append(b, '\\', hex[c>>4], hex[c&15])
				case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';',
					(c == '#' || c == ' ') && k == 0, c == ' ' && k == len(v)-1:
					b = append(b, '\\', c)
				default:
					b = append(b, c)
				}
			}
		}
	}
	return b
}

// attrNames are OpenSSL's short names of the attribute types of
// distinguished names.
var attrNames = map[string]string{
	"2.5.4.3":                    "CN",
	"2.5.4.4":                    "SN",
	"2.5.4.5":                    "serialNumber",
	"2.5.4.6":                    "C",
	"2.5.4.7":                    "L",
	"2.5.4.8":                    "ST",
	"2.5.4.9":                    "street",
	"2.5.4.10":                   "O",
	"2.5.4.11":                   "OU",
	"2.5.4.12":                   "title",
	"2.5.4.17":                   "postalCode",
	"2.5.4.42":                   "GN",
	"0.9.2342.19200300.100.1.1":  "UID",
	"0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1":       "emailAddress",
}

// sigAlgNames and keyAlgNames are OpenSSL's short names of the
// algorithms (ssl_c_sig_alg, ssl_c_key_alg).
var sigAlgNames = map[x509.SignatureAlgorithm]string{
	x509.SHA1WithRSA:      "sha1WithRSAEncryption",
	x509.SHA256WithRSA:    "sha256WithRSAEncryption",
	x509.SHA384WithRSA:    "sha384WithRSAEncryption",
	x509.SHA512WithRSA:    "sha512WithRSAEncryption",
	x509.SHA256WithRSAPSS: "RSASSA-PSS",
	x509.SHA384WithRSAPSS: "RSASSA-PSS",
	x509.SHA512WithRSAPSS: "RSASSA-PSS",
	x509.ECDSAWithSHA1:    "ecdsa-with-SHA1",
	x509.ECDSAWithSHA256:  "ecdsa-with-SHA256",
	x509.ECDSAWithSHA384:  "ecdsa-with-SHA384",
	x509.ECDSAWithSHA512:  "ecdsa-with-SHA512",
	x509.PureEd25519:      "ED25519",
}

var keyAlgNames = map[x509.PublicKeyAlgorithm]string{
	x509.RSA:     "rsaEncryption",
	x509.ECDSA:   "id-ecPublicKey",
	x509.Ed25519: "ED25519",
}
