import java.io.ByteArrayOutputStream;
import java.io.FileOutputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;

// Writes what Spring Session's JdkSerializationRedisSerializer stores in the
// session hash: java.lang.Long / java.lang.Integer bookkeeping and a HashMap
// attribute. Run: java SpringSeeds.java OUTDIR
public class SpringSeeds {
    static byte[] ser(Object o) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(b)) {
            out.writeObject(o);
        }
        return b.toByteArray();
    }

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0], "spring");
        Files.createDirectories(dir);
        Files.write(dir.resolve("creationTime.bin"), ser(Long.valueOf(1763771000123L)));
        Files.write(dir.resolve("lastAccessedTime.bin"), ser(Long.valueOf(1763772300456L)));
        Files.write(dir.resolve("maxInactiveInterval.bin"), ser(Integer.valueOf(1800)));
        HashMap<String, Object> ctx = new HashMap<>();
        ctx.put("user", "ada");
        ctx.put("roles", new String[] {"ROLE_USER"});
        Files.write(dir.resolve("sessionAttr_SPRING_SECURITY_CONTEXT.bin"), ser(ctx));
        Files.write(dir.resolve("sessionAttr_cartSize.bin"), ser(Integer.valueOf(3)));
    }
}
