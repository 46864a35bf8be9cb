package dev.jdm.daemon;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedReader;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A connection to the daemon's control socket: send a request object, get its reply. */
public final class ControlClient implements AutoCloseable {
    private final SocketChannel channel;
    private final BufferedReader in;
    private final OutputStream out;

    private ControlClient(SocketChannel channel) {
        this.channel = channel;
        this.in = new BufferedReader(Channels.newReader(channel, StandardCharsets.UTF_8));
        this.out = Channels.newOutputStream(channel);
    }

    public static ControlClient connect(Path socket) throws NoDaemonException {
        try {
            SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                c.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                c.close();
                throw e;
            }
            return new ControlClient(c);
        } catch (IOException e) {
            throw new NoDaemonException(socket, e);
        }
    }

    /** A request object with its op set; add fields and pass it to {@link #call}. */
    public static ObjectNode request(String op) {
        return Protocol.JSON.createObjectNode().put("op", op);
    }

    /** The reply as it came (ok or not). */
    public JsonNode send(ObjectNode request) throws IOException {
        out.write((request.toString() + "\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
        String line = in.readLine();
        if (line == null) {
            throw new EOFException("the jdm daemon closed the connection without replying");
        }
        return Protocol.JSON.readTree(line);
    }

    /** The reply of a request that succeeded; a refusal becomes a {@link ControlException}. */
    public JsonNode call(ObjectNode request) throws IOException, ControlException {
        JsonNode reply = send(request);
        if (!reply.path("ok").asBoolean(false)) {
            throw new ControlException(reply.path("errno").asText("EIO"), reply.path("code").asInt(5),
                    reply.path("error").asText("the daemon gave no reason"));
        }
        return reply;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
