import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashSet;
import java.util.Set;

/**
 * Runs one prepared statement 10 times through the proxy as a named server-side
 * statement (prepareThreshold=1 in the URL), one transaction per execution.
 * On every other execution a second connection holds a server in an open
 * transaction, so that with a pool of 2 a transaction-mode proxy has to run the
 * statement on the other server: the proxy must prepare it there too.
 * Usage: java PreparedTen JDBC_URL
 * Prints "ok 10 server-prepared backends=N" (N: server processes that ran it); exits 1 on error.
 */
public class PreparedTen {
    public static void main(String[] args) throws SQLException {
        try (Connection conn = DriverManager.getConnection(args[0]);
             Connection holder = DriverManager.getConnection(args[0])) {
            conn.setAutoCommit(false);
            holder.setAutoCommit(false);
            Set<Integer> backends = new HashSet<>();
            boolean serverPrepared = true;
            try (PreparedStatement ps = conn.prepareStatement("SELECT ?::int * 2, pg_backend_pid()");
                 Statement hold = holder.createStatement()) {
                for (int i = 1; i <= 10; i++) {
                    if (i % 2 == 0) {
                        hold.execute("SELECT 1");  // opens a transaction that keeps one server busy
                    }
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next() || rs.getInt(1) != i * 2) {
                            System.out.println("wrong result at execution " + i);
                            System.exit(1);
                        }
                        backends.add(rs.getInt(2));
                    }
                    serverPrepared &= ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare();
                    conn.commit();
                    holder.commit();
                }
            }
            System.out.println("ok 10 " + (serverPrepared ? "server-prepared" : "client-side")
                    + " backends=" + backends.size());
        }
    }
}
