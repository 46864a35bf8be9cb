package dev.jdm.nbd;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A remote export named by the NBD URI standard (NetworkBlockDevice/nbd doc/uri.md):
 * {@code nbd://host[:port]/export} over TCP or {@code nbd+unix:///export?socket=PATH}. TLS URIs
 * ({@code nbds}) are recognised and refused, as jdm's client speaks no TLS.
 */
public record NbdUri(String text, String host, int port, Path socket, String export) {
    public static final int DEFAULT_PORT = 10809;

    public static boolean looksLikeNbd(String spec) {
        return spec.startsWith("nbd://") || spec.startsWith("nbd+unix://") || spec.startsWith("nbds://") || spec.startsWith("nbds+unix://");
    }

    public static NbdUri parse(String text) throws IllegalArgumentException {
        URI uri;
        try {
            uri = new URI(text);
        } catch (URISyntaxException e) {
            throw new IllegalArgumentException("invalid NBD URI " + text + ": " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme();
        String path = uri.getRawPath() == null ? "" : uri.getRawPath();
        String export = URLDecoder.decode(path.startsWith("/") ? path.substring(1) : path, StandardCharsets.UTF_8);
        return switch (scheme) {
            case "nbd" -> {
                if (uri.getHost() == null) {
                    throw new IllegalArgumentException("NBD URI " + text + " names no host");
                }
                yield new NbdUri(text, uri.getHost(), uri.getPort() < 0 ? DEFAULT_PORT : uri.getPort(), null, export);
            }
            case "nbd+unix" -> {
                String socket = queryParameter(uri, "socket");
                if (socket == null || socket.isEmpty()) {
                    throw new IllegalArgumentException("NBD URI " + text + " needs ?socket=PATH");
                }
                yield new NbdUri(text, null, -1, Path.of(socket), export);
            }
            case "nbds", "nbds+unix" -> throw new IllegalArgumentException("NBD URI " + text + " asks for TLS, which jdm's NBD client does not speak");
            default -> throw new IllegalArgumentException("not an NBD URI: " + text);
        };
    }

    private static String queryParameter(URI uri, String name) {
        String query = uri.getRawQuery();
        if (query == null) {
            return null;
        }
        for (String pair : query.split("&")) {
            int eq = pair.indexOf('=');
            if (eq > 0 && URLDecoder.decode(pair.substring(0, eq), StandardCharsets.UTF_8).equals(name)) {
                return URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            }
        }
        return null;
    }

    @Override
    public String toString() {
        return text;
    }
}
