import { test } from "vitest";
import { columnSourcesOfSelect, initClassifier } from "./classify";
test("scratch", async () => {
  await initClassifier();
  for (const q of [
    "select encode(ssn::bytea,'hex'), upper(email), ssn || '' from customers",
    "select row_to_json(c) from customers c",
    "select string_agg(email, ',') from customers",
    "select case when ssn like '1%' then 'a' else name end as x from customers c",
    "select (select ssn from customers where id = o.cid) from orders o",
    "select * from customers",
    "select c.*, o.id from customers c join orders o on o.cid = c.id",
    "select email from customers c join orders o on o.cid = c.id",
    "select s.x from (select ssn as x from customers) s",
    "select * from (select ssn, email from customers) s",
    "with d as (delete from customers returning *) select * from d",
    "with t as (select ssn from customers) select t.ssn from t",
    "delete from customers returning ssn",
    "select my_func(id) from customers",
    "select * from pg_read_file('/etc/passwd') f",
    "select ssn from customers union select email from users",
    "select public.customers.ssn from public.customers",
    "select count(*) from customers",
    "select 1",
    "select \"SSN\" from \"Customers\"",
    "copy customers to stdout",
    "copy (select ssn from customers) to stdout",
  ]) {
    console.log(q, "=>", JSON.stringify(columnSourcesOfSelect(q)));
  }
});
