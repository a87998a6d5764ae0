// The comparison server of bench/run.sh: oauth2-mock-server with one RS256 key, on loopback,
// plain HTTP (it has no TLS of its own), on the port given as the first argument.
import { OAuth2Server } from "oauth2-mock-server";

const server = new OAuth2Server();
await server.issuer.keys.generate("RS256");
await server.start(Number(process.argv[2]), "127.0.0.1");
process.stdout.write(`ready ${server.issuer.url}\n`);
