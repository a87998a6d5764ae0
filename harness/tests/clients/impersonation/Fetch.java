import java.net.HttpURLConnection;
import java.net.URI;

/** A JVM app reaching Entra by its real name; proxy and trust come from JAVA_TOOL_OPTIONS. */
public class Fetch {
    public static void main(String[] args) throws Exception {
        HttpURLConnection c = (HttpURLConnection) URI.create(System.getenv("U")).toURL().openConnection();
        System.out.println("java " + c.getResponseCode());
    }
}
