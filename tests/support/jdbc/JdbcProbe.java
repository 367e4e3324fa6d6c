import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.ResultSetMetaData;
import java.sql.SQLException;
import java.sql.SQLWarning;
import java.sql.Statement;
import java.util.Properties;

/**
 * A real JDBC program (pgJDBC, Debian's libpostgresql-jdbc-java) for the PostgreSQL gateway
 * tests: connects to args[0] as args[1] with password args[2], then runs one command per stdin
 * line and prints what JDBC handed it, one tab-separated line per fact, so the same script run
 * directly and through Gatehouse can be compared line by line:
 *
 *   query SQL                  Statement.execute: ROW lines or COUNT
 *   prepared N SQL [INT...]    one PreparedStatement executed N times with these int parameters; the last result printed
 *   batch SQL INT...           PreparedStatement.addBatch per int, executeBatch: COUNTS
 *   fetch N SQL                a query read N rows at a time (a portal Executed with a row limit,
 *                              resumed after each PortalSuspended), in a transaction of its own
 *   autocommit on|off, commit, rollback
 *
 * After each command: WARNING lines (the server's notices), then DONE. A failed command prints
 * ERROR, its SQLState and message, and the program goes on with the next. A failed connect prints
 * CONNECT_ERROR and exits 2.
 *
 * Compiled by the test (javac -cp /usr/share/java/postgresql.jar), run as java -cp postgresql.jar:DIR JdbcProbe URL USER PASSWORD
 */
public class JdbcProbe {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", args[1]);
    props.setProperty("password", args[2]);
    Connection conn;
    try {
      conn = DriverManager.getConnection(args[0], props);
    } catch (SQLException e) {
      out("CONNECT_ERROR", e.getSQLState(), e.getMessage());
      System.exit(2);
      return;
    }
    out("READY");
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    for (String line; (line = in.readLine()) != null; ) {
      if (line.isBlank()) continue;
      Statement used = null;
      try {
        used = run(conn, line);
      } catch (SQLException e) {
        out("ERROR", e.getSQLState(), e.getMessage());
      }
      if (used != null) {
        printWarnings(used);
        used.close();
      }
      out("DONE");
    }
    conn.close();
  }

  private static Statement run(Connection conn, String line) throws SQLException {
    String[] words = line.split(" ", 2);
    String rest = words.length > 1 ? words[1] : "";
    switch (words[0]) {
      case "query": {
        Statement st = conn.createStatement();
        try {
          printResults(st, st.execute(rest));
        } catch (SQLException e) {
          printWarnings(st);
          st.close();
          throw e;
        }
        return st;
      }
      case "prepared": {
        String[] p = rest.split(" ", 2);
        int times = Integer.parseInt(p[0]);
        String[] sqlAndArgs = splitArgs(p[1]);
        PreparedStatement ps = conn.prepareStatement(sqlAndArgs[0]);
        boolean hasRows = false;
        for (int i = 0; i < times; i++) {
          for (int k = 1; k < sqlAndArgs.length; k++) ps.setInt(k, Integer.parseInt(sqlAndArgs[k]));
          hasRows = ps.execute();
          if (i < times - 1 && hasRows) ps.getResultSet().close();
        }
        printResults(ps, hasRows);
        return ps;
      }
      case "batch": {
        String[] sqlAndArgs = splitArgs(rest);
        PreparedStatement ps = conn.prepareStatement(sqlAndArgs[0]);
        for (int k = 1; k < sqlAndArgs.length; k++) {
          ps.setInt(1, Integer.parseInt(sqlAndArgs[k]));
          ps.addBatch();
        }
        StringBuilder counts = new StringBuilder();
        for (int n : ps.executeBatch()) counts.append(counts.length() > 0 ? "," : "").append(n);
        out("COUNTS", counts.toString());
        return ps;
      }
      case "fetch": {
        String[] p = rest.split(" ", 2);
        boolean auto = conn.getAutoCommit();
        conn.setAutoCommit(false); // pgJDBC fetches in batches only inside a transaction
        Statement st = conn.createStatement();
        st.setFetchSize(Integer.parseInt(p[0]));
        try {
          printResults(st, st.execute(p[1]));
          conn.commit();
        } finally {
          if (!conn.getAutoCommit()) conn.rollback();
          conn.setAutoCommit(auto);
        }
        return st;
      }
      case "autocommit":
        conn.setAutoCommit(rest.equals("on"));
        return null;
      case "commit":
        conn.commit();
        return null;
      case "rollback":
        conn.rollback();
        return null;
      default:
        throw new IllegalArgumentException("unknown command: " + words[0]);
    }
  }

  /** "SQL ;; 1 2 3": the statement, then its int arguments (SQL may contain spaces, never ";;"). */
  private static String[] splitArgs(String s) {
    String[] parts = s.split(" ;; ", 2);
    if (parts.length == 1) return new String[] {parts[0]};
    String[] ints = parts[1].trim().split(" ");
    String[] all = new String[ints.length + 1];
    all[0] = parts[0];
    System.arraycopy(ints, 0, all, 1, ints.length);
    return all;
  }

  private static void printResults(Statement st, boolean hasRows) throws SQLException {
    for (;;) {
      if (hasRows) {
        try (ResultSet rs = st.getResultSet()) {
          ResultSetMetaData md = rs.getMetaData();
          int n = md.getColumnCount();
          String[] cols = new String[n + 1];
          cols[0] = "COLUMNS";
          for (int i = 1; i <= n; i++) cols[i] = md.getColumnLabel(i) + ":" + md.getColumnTypeName(i);
          out(cols);
          while (rs.next()) {
            String[] row = new String[n + 1];
            row[0] = "ROW";
            for (int i = 1; i <= n; i++) {
              Object v = rs.getObject(i);
              row[i] = v == null ? "NULL" : v.getClass().getSimpleName() + "=" + rs.getString(i);
            }
            out(row);
          }
        }
      } else {
        int n = st.getUpdateCount();
        if (n == -1) break;
        out("COUNT", Integer.toString(n));
      }
      hasRows = st.getMoreResults();
    }
  }

  private static void printWarnings(Statement st) throws SQLException {
    for (SQLWarning w = st.getWarnings(); w != null; w = w.getNextWarning()) out("WARNING", w.getMessage());
  }

  private static void out(String... fields) {
    StringBuilder s = new StringBuilder();
    for (String f : fields) s.append(s.length() > 0 ? "\t" : "").append(f == null ? "" : f.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n"));
    System.out.println(s);
    System.out.flush();
  }
}
