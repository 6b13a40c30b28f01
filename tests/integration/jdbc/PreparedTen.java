import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;

/**
 * Runs one prepared statement 10 times through the proxy, past the driver's
 * prepareThreshold (so it becomes a named server-side statement), committing
 * between executions so that a transaction-mode proxy may switch servers.
 * Usage: java PreparedTen JDBC_URL ; prints "ok 10" on success, exits 1 otherwise.
 */
public class PreparedTen {
    public static void main(String[] args) throws SQLException {
        try (Connection conn = DriverManager.getConnection(args[0])) {
            conn.setAutoCommit(false);
            int done = 0;
            try (PreparedStatement ps = conn.prepareStatement("SELECT ?::int * 2, pg_backend_pid()")) {
                for (int i = 1; i <= 10; i++) {
                    ps.setInt(1, i);
                    try (ResultSet rs = ps.executeQuery()) {
                        if (!rs.next() || rs.getInt(1) != i * 2) {
                            System.out.println("wrong result at execution " + i);
                            System.exit(1);
                        }
                    }
                    conn.commit();
                    done++;
                }
                boolean serverPrepared = ps.unwrap(org.postgresql.PGStatement.class).isUseServerPrepare();
                System.out.println("ok " + done + (serverPrepared ? " server-prepared" : " client-side"));
            }
        }
    }
}
