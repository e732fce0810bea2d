/** @type {import('next').NextConfig} */
const nextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // Native and CLI-side packages stay out of the server bundle.
  serverExternalPackages: ["better-sqlite3"],
  typescript: { tsconfigPath: "tsconfig.json" },
};

export default nextConfig;
