-- 并联审批 (issue 9, practice 3). A staff user's department (部门, e.g. 自然资源所): only its staff
-- give that department's opinion on a 并联 item. NULL: none (gives no department opinion).
ALTER TABLE users ADD COLUMN department text;

-- Each department's opinion on a 并联 case, projected from its document: the department's queue
-- (cases awaiting its opinion) is one query. agree NULL: 待出具意见; open: the case is accepted,
-- so an opinion is awaited now. Written only for cases whose item names departments.
CREATE TABLE case_opinions (
  case_id    text NOT NULL REFERENCES cases (id),
  department text NOT NULL,
  due_date   text,
  agree      boolean,
  open       boolean NOT NULL DEFAULT false,
  PRIMARY KEY (case_id, department)
);

CREATE INDEX case_opinions_awaiting ON case_opinions (department, open) WHERE agree IS NULL;
