package xades

// GenerateTestCredentials is GenerateTestCertificate's certificate together with its key, ready to
// sign logins: the self-signed credentials KSeF TEST (and the simulator) accept, without files.
func GenerateTestCredentials(opts TestCertOptions) (*Credentials, error) {
	certPEM, keyPEM, err := GenerateTestCertificate(opts)
	if err != nil {
		return nil, err
	}
	const source = "generated test certificate"
	certs, err := parseCertificatesPEM(certPEM, source)
	if err != nil {
		return nil, err
	}
	key, err := parsePrivateKeyPEM(keyPEM, source, nil)
	if err != nil {
		return nil, err
	}
	return assembleCredentials(key, certs, source)
}
