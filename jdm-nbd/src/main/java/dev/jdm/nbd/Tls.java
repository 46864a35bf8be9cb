package dev.jdm.nbd;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;

/** Builds the server's TLS context from PEM files (an X.509 certificate chain and a PKCS#8 key), as openssl and certtool write them. */
final class Tls {
    private Tls() {
    }

    static SSLContext serverContext(Path keyPem, Path certPem) throws IOException {
        try {
            Certificate[] chain;
            try (InputStream in = Files.newInputStream(certPem)) {
                chain = CertificateFactory.getInstance("X.509").generateCertificates(in).toArray(Certificate[]::new);
            }
            if (chain.length == 0) {
                throw new IOException("no certificate in " + certPem);
            }
            PrivateKey key = privateKey(keyPem, chain[0].getPublicKey().getAlgorithm());
            KeyStore store = KeyStore.getInstance("PKCS12");
            store.load(null, null);
            char[] none = new char[0];
            store.setKeyEntry("nbd", key, none, chain);
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(store, none);
            SSLContext context = SSLContext.getInstance("TLSv1.3");
            context.init(kmf.getKeyManagers(), null, null);
            return context;
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot use TLS key " + keyPem + " and certificate " + certPem + ": " + e.getMessage(), e);
        }
    }

    private static PrivateKey privateKey(Path pem, String algorithm) throws IOException, GeneralSecurityException {
        String text = Files.readString(pem);
        String begin = "-----BEGIN PRIVATE KEY-----";
        int start = text.indexOf(begin);
        int end = text.indexOf("-----END PRIVATE KEY-----");
        if (start < 0 || end < start) {
            throw new IOException(pem + " holds no unencrypted PKCS#8 key (BEGIN PRIVATE KEY); convert it with openssl pkcs8 -topk8 -nocrypt");
        }
        byte[] der = Base64.getMimeDecoder().decode(text.substring(start + begin.length(), end));
        return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(der));
    }
}
