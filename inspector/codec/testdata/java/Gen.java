import com.example.shop.AuditTrail;
import com.example.shop.CartItem;
import com.example.shop.FixedHandler;
import com.example.shop.Greeter;
import com.example.shop.Node;
import com.example.shop.Preferences;
import com.example.shop.Status;
import java.io.ByteArrayOutputStream;
import java.io.ObjectOutputStream;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.TreeMap;
import org.springframework.security.authentication.UsernamePasswordAuthenticationToken;
import org.springframework.security.core.authority.SimpleGrantedAuthority;
import org.springframework.security.core.context.SecurityContextImpl;
import org.springframework.security.core.userdetails.User;
import org.springframework.security.web.authentication.WebAuthenticationDetails;

// Writes, with the JDK's own ObjectOutputStream (as Spring Session's
// JdkSerializationRedisSerializer does), the values a Spring application keeps
// in its session; javaser_test.go checks the decoded trees against what is
// written here. The Spring Security classes under src/ are shaped like the
// real ones (same packages, names, fields and superclasses). Run:
//   javac -d OUT Gen.java $(find src -name '*.java') && java -cp OUT Gen testdata/java
public class Gen {
    static byte[] ser(Object o) throws Exception {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(b)) {
            out.writeObject(o);
        }
        return b.toByteArray();
    }

    static Path dir;

    static void write(String name, Object o) throws Exception {
        Files.write(dir.resolve(name + ".ser"), ser(o));
    }

    public static void main(String[] args) throws Exception {
        dir = Path.of(args[0]);
        Files.createDirectories(dir);

        // Modified UTF-8: NUL as C0 80, the emoji as a surrogate pair.
        write("string", "caf\u00e9 a\u0000b \uD83D\uDE00");
        write("long", Long.valueOf(1763771000123L));
        write("integer", Integer.valueOf(1800));
        write("boolean", Boolean.TRUE);
        write("date", new Date(1763771000123L));
        write("enum", Status.SUSPENDED);

        ArrayList<String> names = new ArrayList<>();
        names.add("ada");
        names.add("lovelace");
        names.add("ada"); // the same String object: written as a reference
        write("arraylist", names);

        HashMap<String, Object> attrs = new HashMap<>();
        attrs.put("user", "ada");
        attrs.put("visits", 42);
        attrs.put("lastSeen", 1763771000123L);
        attrs.put("balance", 12.5);
        attrs.put("ratio", 0.75f);
        attrs.put("admin", false);
        attrs.put("level", (short) -2);
        attrs.put("flags", (byte) 5);
        attrs.put("initial", 'A');
        attrs.put("nothing", null);
        attrs.put("tags", new ArrayList<>(List.of("a", "b")));
        attrs.put("status", Status.ACTIVE);
        attrs.put("again", Status.ACTIVE);
        write("hashmap", attrs);

        LinkedHashMap<String, Integer> ordered = new LinkedHashMap<>();
        ordered.put("zeta", 1);
        ordered.put("alpha", 2);
        ordered.put("mid", 3);
        write("linkedhashmap", ordered);

        TreeMap<String, String> sorted = new TreeMap<>();
        sorted.put("b", "two");
        sorted.put("a", "one");
        write("treemap", sorted);

        HashSet<String> set = new HashSet<>();
        set.add("x");
        set.add("y");
        write("hashset", set);

        ArrayList<Object> numbers = new ArrayList<>();
        numbers.add(new java.math.BigDecimal("12.50"));
        numbers.add(new java.math.BigDecimal("-0.005"));
        numbers.add(new java.math.BigInteger("-1180591620717411303424"));
        numbers.add(java.math.BigInteger.valueOf(7));
        numbers.add(new java.sql.Timestamp(1763771000123L));
        write("numbers", numbers);

        write("bytes", new byte[] {0, 1, 2, (byte) 0xff});
        write("ints", new int[] {1, -2, 300000});
        write("strings", new String[] {"a", null, "c"});

        CartItem item = new CartItem("SKU-1", 2, 1999L);
        write("object", item);
        ArrayList<Object> shared = new ArrayList<>();
        shared.add(item);
        shared.add(item);
        write("shared", shared);

        Node a = new Node("a");
        Node b = new Node("b");
        a.setNext(b);
        b.setNext(a);
        write("cycle", a);
        ArrayList<Object> self = new ArrayList<>();
        self.add("first");
        self.add(self);
        write("cycle_list", self);

        write("custom", new AuditTrail("ada", "login"));
        write("externalizable", new Preferences());
        write("proxy", Proxy.newProxyInstance(Gen.class.getClassLoader(),
                new Class<?>[] {Greeter.class}, new FixedHandler("hi")));

        List<SimpleGrantedAuthority> roles = List.of(new SimpleGrantedAuthority("ROLE_USER"),
                new SimpleGrantedAuthority("ROLE_ADMIN"));
        User user = new User("ada", "s3cr3t-pw", roles);
        UsernamePasswordAuthenticationToken token = new UsernamePasswordAuthenticationToken(user, null, roles);
        token.setDetails(new WebAuthenticationDetails("127.0.0.1", "5f0c2a9e"));
        write("security_context", new SecurityContextImpl(token));
        // An application's own attribute holding the user, outside the context.
        write("user", user);
    }
}
