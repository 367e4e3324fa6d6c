import NextAuth from "next-auth";
import { authOptions } from "@/lib/auth/options";

// next-auth's own endpoints (sign-in, callback, csrf, session); it guards them with its CSRF token.
const handler = (req: Request, ctx: unknown) => NextAuth(authOptions())(req as never, ctx as never);
export { handler as GET, handler as POST };
